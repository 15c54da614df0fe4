package tls

import "fmt"

// FieldError is a config problem that belongs to one field. Field is the
// field's YAML key relative to the config struct ("policy",
// "cipher_suites[2]", "client_auth.ca"), so that a config reader can put the
// error at the key, and the line, that set the field.
//
// Validate and Params return it wrapped in an error whose text starts with
// "tls: "; find it with errors.As.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// fieldErr is how this package reports a problem with one field: the
// FieldError's own text has no "tls: " prefix, since the config reader
// that places it prints its own context, and the error around it has one.
func fieldErr(field, format string, args ...any) error {
	return fmt.Errorf("tls: %w", &FieldError{Field: field, Err: fmt.Errorf(format, args...)})
}
