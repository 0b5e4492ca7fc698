package peer

import "strings"

// Asking for Opus DTX (RFC 7587 §6.1). usedtx=1 in the format parameters
// of the Opus a browser sends says that confd's decoder prefers DTX: a
// browser then sends nothing while its microphone is silent but a comfort
// noise frame every 400 ms, instead of 50 packets a second. In a room
// where a few talk and the rest listen, that is most of the audio confd
// receives; the mixer's jitter buffer takes the gaps as the pauses they
// are. pion answers with the client's own format parameters and refuses a
// local description other than the one it made, so confd sets the
// parameter in the copy it sends (as it adds simulcast rids, see
// simulcast_sdp.go); pion itself has no use for it.

// withDTX returns desc with usedtx=1 in every Opus format line, adding
// one where an Opus payload type has none.
func withDTX(desc string) string {
	eol := "\r\n"
	if !strings.Contains(desc, eol) {
		eol = "\n"
	}
	lines := strings.Split(strings.TrimSuffix(desc, eol), eol)
	out := make([]string, 0, len(lines)+2)
	for start := 0; start < len(lines); {
		end := start + 1
		for end < len(lines) && !strings.HasPrefix(lines[end], "m=") {
			end++
		}
		out = appendSectionDTX(out, lines[start:end])
		start = end
	}
	return strings.Join(out, eol) + eol
}

// appendSectionDTX appends one media section's lines (or the session's)
// to out, with usedtx=1 for its Opus payload types.
func appendSectionDTX(out, section []string) []string {
	opus := map[string]bool{} // payload type: has a format line
	for _, l := range section {
		if pt, codec, ok := strings.Cut(strings.TrimPrefix(l, "a=rtpmap:"), " "); ok && strings.HasPrefix(l, "a=rtpmap:") &&
			strings.HasPrefix(strings.ToLower(codec), "opus/") {
			opus[pt] = false
		}
	}
	for _, l := range section {
		if rest, ok := strings.CutPrefix(l, "a=fmtp:"); ok {
			if pt, params, ok := strings.Cut(rest, " "); ok {
				if _, isOpus := opus[pt]; isOpus {
					opus[pt] = true
					l = "a=fmtp:" + pt + " " + setParam(params, "usedtx", "1")
				}
			}
		}
		out = append(out, l)
		if pt := rtpmapPT(l); pt != "" {
			if has, isOpus := opus[pt]; isOpus && !has && !sectionHasFmtp(section, pt) {
				out = append(out, "a=fmtp:"+pt+" usedtx=1")
			}
		}
	}
	return out
}

// sectionHasFmtp reports whether section has a format line for pt.
func sectionHasFmtp(section []string, pt string) bool {
	for _, l := range section {
		if strings.HasPrefix(l, "a=fmtp:"+pt+" ") {
			return true
		}
	}
	return false
}

// rtpmapPT is the payload type of an a=rtpmap line, "" for another line.
func rtpmapPT(l string) string {
	rest, ok := strings.CutPrefix(l, "a=rtpmap:")
	if !ok {
		return ""
	}
	pt, _, ok := strings.Cut(rest, " ")
	if !ok {
		return ""
	}
	return pt
}

// setParam sets key to value in a format parameter list (key=value pairs
// separated by semicolons).
func setParam(params, key, value string) string {
	parts := strings.Split(params, ";")
	for i, p := range parts {
		k, _, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, key) {
			parts[i] = key + "=" + value
			return strings.Join(parts, ";")
		}
	}
	if strings.TrimSpace(params) == "" {
		return key + "=" + value
	}
	return params + ";" + key + "=" + value
}
