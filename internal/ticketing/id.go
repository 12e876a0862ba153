package ticketing

import "github.com/google/uuid"

// NewID returns a new random (version 4) UUID string.
func NewID() string { return uuid.NewString() }

// ValidID reports whether s is a UUID in its canonical textual form.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
