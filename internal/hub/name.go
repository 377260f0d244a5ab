package hub

// The proxy-name rule, stated once. The API documents it with NamePattern
// and the same length bounds (a test holds the document to them); every
// other check calls ValidName.
const (
	// MaxNameLength is the longest proxy name.
	MaxNameLength = 100
	// NamePattern is the name rule as a regular expression.
	NamePattern = `^[A-Za-z0-9][A-Za-z0-9._-]*$`
	// NameRule says the rule in words, for error messages.
	NameRule = "1-100 characters: a letter or digit first, then letters, digits, '.', '_' or '-'"
)

// ValidName reports whether name is an acceptable proxy name (NameRule).
// It is on every heartbeat's path, so it does not use a regular
// expression.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}
