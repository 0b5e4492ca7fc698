package events

import "errors"

var (
	// ErrUnknownType means an event name confd does not send.
	ErrUnknownType = errors.New("unknown event type")
	// ErrTooManyStreams means every event stream slot is taken.
	ErrTooManyStreams = errors.New("too many event streams")
	// ErrClosed means the bus is shutting down.
	ErrClosed = errors.New("events are shutting down")
	// ErrBadWebhook means a webhook's config is incomplete or wrong.
	ErrBadWebhook = errors.New("bad webhook config")
	// ErrBadSignature means a webhook request whose Confd-Signature does
	// not match its body, or is too old.
	ErrBadSignature = errors.New("bad webhook signature")
)
