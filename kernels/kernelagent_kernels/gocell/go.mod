module gocell

go 1.19
