// A gorilla/websocket server (Debian's golang-github-gorilla-websocket-dev,
// built in GOPATH mode, no network), written the way gorilla's own chat
// example keeps connections alive, so wsprobe is judged against what Go
// services really do. Echoes messages. Prints
// `READY ws://127.0.0.1:PORT pid=PID`, then serves until killed.
//
// Usage: gorilla_server MODE PING_PERIOD PONG_WAIT [abrupt]
//
//	MODE pong: the read deadline is PONG_WAIT from the last pong (the chat
//	           example's SetPongHandler), pings every PING_PERIOD.
//	MODE idle: the read deadline is PONG_WAIT from the last data message
//	           (reset before each ReadMessage, no pong handler): answered
//	           pings do not keep a silent connection open.
//
// When the deadline passes, the write pump sends an empty close frame (the
// chat example's `WriteMessage(CloseMessage, []byte{})`: the client sees
// 1005), or with `abrupt` just closes TCP (1006).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

type settings struct {
	idle       bool
	pingPeriod time.Duration
	pongWait   time.Duration
	abrupt     bool
}

func serveWs(s settings, w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	send := make(chan []byte, 16)
	go writePump(s, c, send)
	readPump(s, c, send)
}

// readPump reads until the deadline or an error, then closes `send`, which
// tells the write pump to end the connection.
func readPump(s settings, c *websocket.Conn, send chan []byte) {
	defer close(send)
	c.SetReadDeadline(time.Now().Add(s.pongWait))
	if !s.idle {
		c.SetPongHandler(func(string) error { c.SetReadDeadline(time.Now().Add(s.pongWait)); return nil })
	}
	for {
		if s.idle {
			c.SetReadDeadline(time.Now().Add(s.pongWait))
		}
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		select {
		case send <- msg:
		default:
		}
	}
}

func writePump(s settings, c *websocket.Conn, send chan []byte) {
	ticker := time.NewTicker(s.pingPeriod)
	defer func() { ticker.Stop(); c.Close() }()
	for {
		select {
		case msg, ok := <-send:
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if !ok {
				if !s.abrupt {
					c.WriteMessage(websocket.CloseMessage, []byte{})
				}
				return
			}
			if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
				return
			}
		case <-ticker.C:
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: gorilla_server pong|idle PING_PERIOD PONG_WAIT [abrupt]")
		os.Exit(2)
	}
	period, err1 := time.ParseDuration(os.Args[2])
	wait, err2 := time.ParseDuration(os.Args[3])
	if err1 != nil || err2 != nil || (os.Args[1] != "pong" && os.Args[1] != "idle") {
		fmt.Fprintln(os.Stderr, "usage: gorilla_server pong|idle PING_PERIOD PONG_WAIT [abrupt] (durations as 1s, 500ms)")
		os.Exit(2)
	}
	s := settings{idle: os.Args[1] == "idle", pingPeriod: period, pongWait: wait, abrupt: len(os.Args) > 4 && os.Args[4] == "abrupt"}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("READY ws://127.0.0.1:%d pid=%d\n", l.Addr().(*net.TCPAddr).Port, os.Getpid())
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serveWs(s, w, r) }))
}
