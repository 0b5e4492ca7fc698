package verto

import "strings"

// AudioFirst orders an answer's media sections as FreeSWITCH writes them:
// audio before video. An answer in the offer's own order is what RFC 3264
// asks for, but @signalwire/js 1.x expects FreeSWITCH's order: when its
// offer has video before audio (a screen share, whose display track is
// added before the audio it only receives) it moves the answer's sections
// back into the offer's order itself, cutting the answer at the first
// audio and the first video line. Given an answer already in the offer's
// order, that cut repeats the video section and Chromium refuses the
// answer ("Duplicate a=msid lines"). A client that offers audio first, or
// no audio, gets its answer unchanged.
//
// The answer's bytes are kept: sections move whole, their lines untouched.
func AudioFirst(offer, answer string) string {
	if !videoBeforeAudio(offer) {
		return answer
	}
	head, sections := splitSections(answer)
	var audio, other []string
	for _, s := range sections {
		if strings.HasPrefix(s, "m=audio ") {
			audio = append(audio, s)
		} else {
			other = append(other, s)
		}
	}
	if len(audio) == 0 || len(other) == 0 {
		return answer
	}
	return head + strings.Join(audio, "") + strings.Join(other, "")
}

// videoBeforeAudio reports whether sdp has a video section before its
// first audio one.
func videoBeforeAudio(sdp string) bool {
	_, sections := splitSections(sdp)
	video := -1
	for i, s := range sections {
		switch {
		case strings.HasPrefix(s, "m=video ") && video < 0:
			video = i
		case strings.HasPrefix(s, "m=audio "):
			return video >= 0
		}
	}
	return false
}

// splitSections cuts sdp into its session part and its media sections,
// each from its m= line up to the next (line endings kept).
func splitSections(sdp string) (head string, sections []string) {
	start := -1
	for i := 0; i < len(sdp); {
		end := strings.IndexByte(sdp[i:], '\n')
		next := len(sdp)
		if end >= 0 {
			next = i + end + 1
		}
		if strings.HasPrefix(sdp[i:], "m=") {
			if start < 0 {
				head = sdp[:i]
			} else {
				sections = append(sections, sdp[start:i])
			}
			start = i
		}
		i = next
	}
	if start < 0 {
		return sdp, nil
	}
	return head, append(sections, sdp[start:])
}
