// Package vp8 parses and rewrites the VP8 RTP payload descriptor defined in
// RFC 7741 §4.2, and reads the key-frame (P) bit of the VP8 payload header
// (RFC 7741 §4.3) that follows it.
//
// A selective forwarder switching between simulcast encodings has to keep the
// picture ID and TL0PICIDX sequences continuous for the receiver, so the
// rewrite functions replace exactly those fields and leave every other byte
// of the payload untouched. None of the functions allocate.
//
// Descriptor layout (RFC 7741 §4.2):
//
//	      0 1 2 3 4 5 6 7
//	     +-+-+-+-+-+-+-+-+
//	     |X|R|N|S|R| PID | (REQUIRED)
//	     +-+-+-+-+-+-+-+-+
//	X:   |I|L|T|K| RSV   | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
//	I:   |M| PictureID   | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
//	     |   PictureID   | (present when M is 1)
//	     +-+-+-+-+-+-+-+-+
//	L:   |   TL0PICIDX   | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
//	T/K: |TID|Y| KEYIDX  | (OPTIONAL)
//	     +-+-+-+-+-+-+-+-+
package vp8
