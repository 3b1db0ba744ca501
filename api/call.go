package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/rideshare/dbaas/dbapi"
)

// call sends body (nil: none) as JSON to path and decodes a 2xx answer into
// out (nil: the answer is dropped). A call that may be resent (reads, GETs)
// is retried on 502/503/504 and any transport error; one that may not
// (writes, crashes) only when it surely was not sent (connection refused) or
// the orchestrator answered 503. The whole call, retries included, is
// bounded by c.timeout.
func (c *Client) call(ctx context.Context, op, method, path string, body, out any, resend bool) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return &Error{Op: op, Err: fmt.Errorf("encode request: %w", err)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	pause := c.backoff
	for attempt := 1; ; attempt++ {
		err := c.once(ctx, op, method, path, payload, out)
		if err == nil {
			return nil
		}
		if attempt >= c.attempts || ctx.Err() != nil || !retryable(err, resend) {
			return err
		}
		c.log.Debug("retrying API call", "op", op, "attempt", attempt, "error", err)
		wait := pause/2 + rand.N(pause/2+1)
		pause *= 2
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// once sends one attempt.
func (c *Client) once(ctx context.Context, op, method, path string, payload []byte, out any) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if tok := c.tokenFor(path); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Op: op, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return &Error{Op: op, Status: resp.StatusCode, Err: fmt.Errorf("read answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &Error{Op: op, Status: resp.StatusCode, Msg: errorMessage(data, resp.Status)}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil // e.g. a clear answered with an empty body
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &Error{Op: op, Status: resp.StatusCode, Err: fmt.Errorf("decode answer %.200q: %w", data, err)}
	}
	return nil
}

// errorMessage is the server's {"error":…} text, or the raw body, or the status.
func errorMessage(data []byte, status string) string {
	var eb dbapi.ErrorBody
	if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
		return eb.Error
	}
	if s := string(bytes.TrimSpace(data)); s != "" {
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		return s
	}
	return status
}

// retryable reports whether a failed attempt may be tried again.
func retryable(err error, resend bool) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	if e.Status == 0 && e.Err != nil {
		if errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded) {
			return false
		}
		return resend || notSent(e.Err)
	}
	switch e.Status {
	case http.StatusServiceUnavailable:
		return true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return resend
	}
	return false
}

// notSent reports whether a transport error proves the request never left:
// the connection could not be made at all.
func notSent(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
