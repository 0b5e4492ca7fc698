package signalling

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestFrameOverHardLimit: a frame over twice max_message_bytes is refused
// at its header with a 1009 close frame, which the client receives (it is
// not reset, though it goes on sending its 4 MB); a frame between the
// limits is refused and the session lives on.
func TestFrameOverHardLimit(t *testing.T) {
	env := startServer(t, func(c *Config) { c.MaxMessageBytes = 4096 })
	ctx := testCtx(t, 30*time.Second)
	c := dialRaw(ctx, t, env.url, "sessid-huge")
	c.login(ctx, userLogin, userPasswd)

	c.writeText(`{"jsonrpc":"2.0","method":"echo","id":1,"params":{"pad":"` + string(bytes.Repeat([]byte("x"), 6000)) + `"}}`)
	jsonEq(t, "between the limits", c.reply(ctx, nil).raw, fmt.Sprintf(`{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"Message too large"}}`, CodeTooLarge))
	c.echoOK(ctx)

	c.tryWrite(websocket.TextMessage, bytes.Repeat([]byte("x"), 4<<20))
	c.waitClosed(ctx)
	c.wantClose(t, websocket.CloseMessageTooBig)
}
