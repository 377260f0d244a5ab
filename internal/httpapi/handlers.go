package httpapi

// handlers are the operations' thin bodies: take Huma's decoded input, call
// the domain, convert the result to the api types, map errors.
type handlers struct {
	Deps
}
