// Package change names what a change does with the identity records at a
// name: add beside them, replace them, or remove them. One Mode serves the
// identity zone (zone.Change), its admin API client (zone/admin.Client)
// and RFC 2136 publication to any primary (zone/publish.Request).
package change

import "fmt"

// Mode is what a change does with the records at its name. The zero value
// is no mode: each user of Mode says what it takes it to mean.
type Mode int

// Modes.
const (
	// Add adds the records, keeping what is at the name.
	Add Mode = iota + 1
	// Replace puts the records in place of those at the name (a key
	// rollover in one step, or a first publication).
	Replace
	// Remove deletes records at the name (a revocation, unless a wildcard
	// covers the name: see zone.Zone.Revoke).
	Remove
)

// String returns "add", "replace" or "remove", the words of the admin
// API's import mode and of the CLI.
func (m Mode) String() string {
	switch m {
	case Add:
		return "add"
	case Replace:
		return "replace"
	case Remove:
		return "remove"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Parse reads the words String returns.
func Parse(s string) (Mode, error) {
	for m := Add; m <= Remove; m++ {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("change: unknown mode %q (want add, replace or remove)", s)
}
