# A package, so this tier's conftest is imported as `unit.conftest` and never shadows the end-to-end
# tests' `conftest` module (which they import helpers from).
