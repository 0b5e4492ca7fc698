package dialin

import (
	"embed"
	"fmt"
	"path"
	"strings"

	"github.com/confd/confd/mixer"
)

// promptFiles are the recorded prompts: 8 kHz µ-law, headerless, made
// once by prompts/make.sh (espeak-ng) and committed.
//
//go:embed prompts/*.ul
var promptFiles embed.FS

// prompts holds every prompt encoded for both G.711 laws, so that playing
// one is a slice hand-over, never a transcode on the call's path.
type prompts struct {
	ulaw, alaw map[string][]byte
}

func loadPrompts() (*prompts, error) {
	ents, err := promptFiles.ReadDir("prompts")
	if err != nil {
		return nil, err
	}
	ps := &prompts{ulaw: map[string][]byte{}, alaw: map[string][]byte{}}
	for _, e := range ents {
		b, err := promptFiles.ReadFile(path.Join("prompts", e.Name()))
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(e.Name(), ".ul")
		ps.ulaw[name] = b
		ps.alaw[name] = ulawToALaw(b)
	}
	return ps, nil
}

func ulawToALaw(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = mixer.ALawEncode(mixer.ULawDecode(c))
	}
	return out
}

// audio concatenates the named prompts in codec c; unknown names are
// skipped (a missing file must not take a call down).
func (ps *prompts) audio(c mixer.Codec, names ...string) []byte {
	set := ps.ulaw
	if c == mixer.CodecPCMA {
		set = ps.alaw
	}
	if len(names) == 1 {
		return set[names[0]]
	}
	var out []byte
	for _, n := range names {
		out = append(out, set[n]...)
	}
	return out
}

// numberWords names the prompts that say n: "n0".."n20", then tens and
// units ("n40", "n2" for 42); beyond 99 a single "more than ninety nine".
func numberWords(n int) []string {
	switch {
	case n < 0:
		return nil
	case n <= 20:
		return []string{fmt.Sprintf("n%d", n)}
	case n < 100 && n%10 == 0:
		return []string{fmt.Sprintf("n%d", n)}
	case n < 100:
		return []string{fmt.Sprintf("n%d", n-n%10), fmt.Sprintf("n%d", n%10)}
	}
	return []string{"hundreds"}
}
