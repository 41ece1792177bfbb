package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

// ErrUnauthorized is matched (errors.Is) by a client *Error with status 401: the
// token is missing or not the cluster's.
var ErrUnauthorized = errors.New("unauthorized")

// Error is a non-2xx answer from the API, as the client returns it.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Message is the server's one-line {"error": ...} text, or the status text
	// when the body was not the API's JSON (a proxy in between, say).
	Message string
}

// Error returns the message and the status, one line, for the CLI to print.
func (e *Error) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// Is makes errors.Is(err, ErrUnauthorized) true for a 401, so callers need not
// compare status codes.
func (e *Error) Is(target error) bool {
	return target == ErrUnauthorized && e.Status == http.StatusUnauthorized
}

// errorBody is every error answer. LeaderID and LeaderAPIAddr are set when the
// request reached a node that is not the leader, so that a client can go there.
type errorBody struct {
	Error         string `json:"error"`
	LeaderID      string `json:"leader_id,omitempty"`
	LeaderAPIAddr string `json:"leader_api_addr,omitempty"`
}

// statusError carries the HTTP status decided where the problem was found
// (request validation, authorisation, forwarding), ahead of the sentinel mapping.
type statusError struct {
	code int
	err  error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// withStatus returns err answered with code.
func withStatus(code int, err error) error { return &statusError{code: code, err: err} }

// badRequest is a 400 whose message names the problem.
func badRequest(format string, args ...any) error {
	return withStatus(http.StatusBadRequest, fmt.Errorf(format, args...))
}

// errShuttingDown answers writes after StopWrites.
var errShuttingDown = withStatus(http.StatusServiceUnavailable, errors.New("shutting down"))

// statusFor maps an error to the HTTP status the API answers with.
func statusFor(err error) int {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.code
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, cluster.ErrMaybeApplied):
		return http.StatusServiceUnavailable
	case errors.Is(err, cluster.ErrAddressConflict), errors.Is(err, cluster.ErrVIPExists):
		return http.StatusConflict
	case errors.Is(err, cluster.ErrUnreachable):
		return http.StatusBadGateway
	case errors.Is(err, cluster.ErrNotLeader):
		return http.StatusMisdirectedRequest
	case errors.Is(err, cluster.ErrNoLeader):
		return http.StatusServiceUnavailable
	case errors.Is(err, cluster.ErrWitness):
		return http.StatusConflict
	case errors.Is(err, cluster.ErrUnknownMember), errors.Is(err, fsm.ErrNoSuchVIP):
		return http.StatusNotFound
	case errors.Is(err, fsm.ErrInvalidVIP), errors.Is(err, fsm.ErrInvalidHealth), errors.Is(err, fsm.ErrMalformed):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// oneLine keeps error bodies to one line, as the CLI prints them verbatim.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// fail answers err as JSON with its mapped status. 5xx answers are logged here,
// once; nothing else logs them. Headers are never logged, so neither is the token.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := statusFor(err)
	s.failWith(w, r, code, errorBody{Error: oneLine(err.Error())}, err)
}

func (s *Server) failWith(w http.ResponseWriter, r *http.Request, code int, body errorBody, err error) {
	if code >= 500 {
		// 503 is what a follower without a leader or a stopping node answers in
		// normal operation; anything else is a fault worth an operator's look.
		level := s.log.Error
		if code == http.StatusServiceUnavailable {
			level = s.log.Warn
		}
		level("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="raftvip"`)
	}
	writeJSON(w, code, body)
}

// writeJSON answers v with code. v is always one of this package's plain
// structs, so marshalling cannot fail in practice; if it does the client still
// gets a JSON 500 rather than a half-written body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: oneLine("encode answer: " + err.Error())})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// jsonProblem turns a decoder error into a message naming the problem, without
// the Go type names that mean nothing to an operator.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errEmptyBody):
		return "request body is empty: want a JSON object"
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "request body ends in the middle of the JSON object"
	case errors.Is(err, errTrailingData):
		return "request body must hold exactly one JSON object"
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("request body must be a JSON object, not %s", typ.Value)
		}
		return fmt.Sprintf("field %q must be a %s, not %s", typ.Field, typ.Type, typ.Value)
	}
	// Unknown fields and truncated bodies: the decoder's text already names them.
	return strings.TrimPrefix(err.Error(), "json: ")
}
