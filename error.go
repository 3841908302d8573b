// Package knit holds the domain vocabulary of knit: identifiers, record keys,
// and the one application error type that every layer returns and that the
// CLI and HTTP server map to exit codes and status codes in one place each.
package knit

import (
	"errors"
	"fmt"
)

// Error codes. They say what kind of failure happened, not where.
const (
	EINVALID      = "invalid"      // the user's input (config, data, arguments) is wrong
	ENOTFOUND     = "not_found"    // the thing asked for does not exist
	ECONFLICT     = "conflict"     // the operation clashes with current state (a lock, a running server)
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials
	EINTERNAL     = "internal"     // a bug or an environment failure
	EBUDGET       = "error_budget" // too many rejected rows
)

// Error is knit's application error. Message is written for the person who
// must act on it; Code is for programs.
type Error struct {
	Code    string
	Message string
	Err     error // the underlying cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code that wraps err.
func Wrap(code string, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}
