package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Kinds of failure, matched with errors.Is against an *Error.
var (
	// ErrBadInput: the orchestrator refused the request as malformed (400, 413).
	ErrBadInput = errors.New("bad input")
	// ErrConflict: a constraint was violated, e.g. a duplicate primary key,
	// or the admin API found nothing to act on (409).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: no answer in time — 502/503/504, or no connection.
	ErrUnavailable = errors.New("database unavailable")
	// ErrUnauthorized: the orchestrator wants a token this client did not
	// send, or not the one it sent (401; see WithToken).
	ErrUnauthorized = errors.New("unauthorized")
)

// Error is a failed call. Status is the HTTP status (0 when there was no
// answer), Msg the server's {"error":…} message, Err a transport error.
type Error struct {
	Op     string
	Status int
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	switch {
	case e.Status != 0 && e.Msg != "":
		return fmt.Sprintf("%s: %d %s: %s", e.Op, e.Status, http.StatusText(e.Status), e.Msg)
	case e.Status != 0 && e.Err != nil:
		return fmt.Sprintf("%s: %d %s: %v", e.Op, e.Status, http.StatusText(e.Status), e.Err)
	case e.Status != 0:
		return fmt.Sprintf("%s: %d %s", e.Op, e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the kinds ErrBadInput, ErrConflict, ErrUnauthorized and
// ErrUnavailable.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadInput:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusRequestEntityTooLarge
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrUnavailable:
		switch e.Status {
		case 0:
			return e.Err != nil
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// StatusOf is the HTTP status carried by err, 0 when none (no answer).
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// HTTPStatus is what a service answers when a DB API call failed with err:
// 503 when the database did not answer in time, 500 otherwise.
func HTTPStatus(err error) int {
	if errors.Is(err, ErrUnavailable) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
