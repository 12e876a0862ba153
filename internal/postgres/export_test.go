package postgres

// Queries exposes the loaded statements to the external tests.
func Queries() map[string]string { return queries }
