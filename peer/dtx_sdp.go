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
	opus := map[string]bool{} // Opus payload type: it has a format line
	for _, l := range section {
		if pt, codec, ok := attribute(l, "a=rtpmap:"); ok && strings.HasPrefix(strings.ToLower(codec), "opus/") {
			opus[pt] = false
		}
	}
	for _, l := range section {
		if pt, _, ok := attribute(l, "a=fmtp:"); ok {
			if _, isOpus := opus[pt]; isOpus {
				opus[pt] = true
			}
		}
	}
	for _, l := range section {
		if pt, params, ok := attribute(l, "a=fmtp:"); ok {
			if _, isOpus := opus[pt]; isOpus {
				l = "a=fmtp:" + pt + " " + setParam(params, "usedtx", "1")
			}
		}
		out = append(out, l)
		if pt, _, ok := attribute(l, "a=rtpmap:"); ok {
			if hasFmtp, isOpus := opus[pt]; isOpus && !hasFmtp {
				out = append(out, "a=fmtp:"+pt+" usedtx=1")
			}
		}
	}
	return out
}

// attribute splits a line of the attribute prefix names (a=rtpmap:,
// a=fmtp:) into its payload type and the rest.
func attribute(l, prefix string) (pt, rest string, ok bool) {
	v, ok := strings.CutPrefix(l, prefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(v, " ")
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
