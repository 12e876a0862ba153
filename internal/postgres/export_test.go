package postgres

// Queries exposes the loaded statements to the external tests.
func Queries() map[string]string { return queries }

// PendingInserts returns how many bookings wait for the group-commit writer.
func PendingInserts(s *BookingStore) int { return s.inserts.Pending() }
