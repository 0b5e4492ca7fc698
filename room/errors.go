package room

import "errors"

var (
	// ErrNoSuchRoom means no room has the dialled number or name.
	ErrNoSuchRoom = errors.New("no such room")
	// ErrRoomFull means the room has reached its member limit.
	ErrRoomFull = errors.New("room is full")
	// ErrRoomClosed means the room is shutting down.
	ErrRoomClosed = errors.New("room is closed")
	// ErrNoSuchSlot means a slot index outside the member's slots.
	ErrNoSuchSlot = errors.New("no such slot")
	// ErrNoSuchMember means a member ID not in the room.
	ErrNoSuchMember = errors.New("no such member")
	// ErrNotInRoom means the participant has left.
	ErrNotInRoom = errors.New("participant is not in the room")
	// ErrRoomExists means a new room's number or name is taken.
	ErrRoomExists = errors.New("room exists")
	// ErrBadRoom means a room's config is incomplete or wrong.
	ErrBadRoom = errors.New("bad room config")
	// ErrConfiguredRoom means an attempt to remove a room from the config:
	// only dynamic rooms can be removed.
	ErrConfiguredRoom = errors.New("room is configured, not dynamic")
)
