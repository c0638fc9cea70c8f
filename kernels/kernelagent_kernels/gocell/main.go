// gocell splits one Go notebook cell (read from stdin) into top-level declarations and
// statements, for kernelagent_kernels/go.py. Go's own scanner is used so that strings, runes, raw strings
// and comments are never mistaken for structure, and automatic semicolons mark where each
// top-level item ends.
//
// Output (JSON on stdout):
//   {"items": [{"kind": "import"|"decl"|"stmt", "names": [...], "src": "...", "line": N}]}
// `names` identifies a declaration so that a later cell declaring the same name replaces it:
// "type:T", "func:F", "method:T.M", "value:X" (const and var share one namespace, as in Go).
package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"os"
	"strconv"
)

type item struct {
	Kind  string   `json:"kind"`
	Names []string `json:"names"`
	Src   string   `json:"src"`
	Line  int      `json:"line"`
}

type tok struct {
	pos token.Pos
	tok token.Token
	lit string
}

func main() {
	src, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err.Error())
	}
	fset := token.NewFileSet()
	file := fset.AddFile("cell", -1, len(src))
	var s scanner.Scanner
	var scanErr string
	s.Init(file, src, func(pos token.Position, msg string) {
		if scanErr == "" {
			scanErr = pos.String() + ": " + msg
		}
	}, 0) // comments are skipped: they stay in the source slices, not in the token stream
	// Collect top-level token runs: a run ends at a semicolon outside any bracket.
	var runs [][]tok
	var cur []tok
	depth := 0
	for {
		pos, t, lit := s.Scan()
		if t == token.EOF {
			break
		}
		switch t {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
		}
		if t == token.SEMICOLON && depth == 0 {
			if len(cur) > 0 {
				runs = append(runs, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, tok{pos, t, lit})
	}
	if len(cur) > 0 {
		runs = append(runs, cur)
	}
	if scanErr != "" {
		fail(scanErr)
	}
	// Adjacent statements are kept as one slice of the source: this keeps `for i := 0; i < n;
	// i++ {` whole, whose semicolons sit outside any bracket.
	items := []item{}
	prevStart := -1
	for _, run := range runs {
		start := file.Offset(run[0].pos)
		last := run[len(run)-1]
		end := file.Offset(last.pos) + tokenLen(last)
		kind := classify(run)
		if kind == "stmt" && len(items) > 0 && items[len(items)-1].Kind == "stmt" {
			items[len(items)-1].Src = string(src[prevStart:end])
			continue
		}
		it := item{Kind: kind, Src: string(src[start:end]), Line: file.Line(run[0].pos)}
		if kind != "stmt" {
			it.Names = declNames(it.Src)
		}
		items = append(items, it)
		prevStart = start
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{"items": items})
}

func tokenLen(t tok) int {
	if t.lit != "" {
		return len(t.lit)
	}
	return len(t.tok.String())
}

// classify tells a declaration from a statement by its first tokens. `func` starts a
// declaration when followed by a name, or by a receiver and then a name (a method); otherwise
// it is a function literal inside a statement.
func classify(run []tok) string {
	switch run[0].tok {
	case token.IMPORT:
		return "import"
	case token.TYPE, token.CONST, token.VAR:
		return "decl"
	case token.FUNC:
		if len(run) > 1 && run[1].tok == token.IDENT {
			return "decl"
		}
		if len(run) > 1 && run[1].tok == token.LPAREN {
			depth := 0
			for i := 1; i < len(run); i++ {
				switch run[i].tok {
				case token.LPAREN:
					depth++
				case token.RPAREN:
					depth--
				}
				if depth == 0 {
					if i+2 < len(run) && run[i+1].tok == token.IDENT && run[i+2].tok == token.LPAREN {
						return "decl"
					}
					return "stmt"
				}
			}
		}
	}
	return "stmt"
}

// declNames parses one declaration and names what it declares; a declaration that does not
// parse gets no names (the compiler will report it).
func declNames(decl string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+decl, 0)
	if err != nil {
		return nil
	}
	names := []string{}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv != nil && len(d.Recv.List) > 0 {
				names = append(names, "method:"+recvName(d.Recv.List[0].Type)+"."+d.Name.Name)
			} else {
				names = append(names, "func:"+d.Name.Name)
			}
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				switch sp := spec.(type) {
				case *ast.ImportSpec:
					path, _ := strconv.Unquote(sp.Path.Value)
					names = append(names, "import:"+path)
				case *ast.TypeSpec:
					names = append(names, "type:"+sp.Name.Name)
				case *ast.ValueSpec:
					for _, n := range sp.Names {
						if n.Name != "_" {
							names = append(names, "value:"+n.Name)
						}
					}
				}
			}
		}
	}
	return names
}

func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}

func fail(msg string) {
	json.NewEncoder(os.Stdout).Encode(map[string]any{"error": msg})
	os.Exit(0)
}
