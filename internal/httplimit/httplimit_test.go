package httplimit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dnsbound/dance/internal/testwait"
)

// Short limits so that tests see clients cut; every wait below is for
// something the server must do, polled with a deadline far beyond these.
var short = Limits{
	HeaderTimeout: 300 * time.Millisecond,
	ReadTimeout:   500 * time.Millisecond,
	WriteTimeout:  500 * time.Millisecond,
	IdleTimeout:   300 * time.Millisecond,
	MaxBodyBytes:  1 << 10,
	MaxConns:      2,
}

// generous is how long a test waits for the server to cut a connection:
// many times any limit, so that a slow machine does not fail the test.
const generous = 20 * time.Second

// serve runs h behind l on 127.0.0.1 and returns the address and the
// listener.
func serve(t *testing.T, l Limits, h http.Handler) (string, *Listener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.Server(h)
	cl := l.Listener(ln, nil)
	done := make(chan struct{})
	go func() { srv.Serve(cl); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String(), cl
}

// dial opens a raw connection to addr.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitClosed reads from c until the server closes it and returns what
// came; it fails if the server keeps it open for generous.
func waitClosed(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(generous))
	var got strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server kept the connection open for %s; got %q", generous, got.String())
		}
		return got.String() // EOF or reset: closed by the server
	}
}

// unauthorized answers 401 without reading the body, like the admin API
// refusing a request.
var unauthorized = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "unauthorized", http.StatusUnauthorized)
})

func TestBodyThatNeverComesIsCut(t *testing.T) {
	readErr := make(chan error, 1)
	addr, _ := serve(t, short, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			return
		}
		fmt.Fprint(w, "ok")
	}))
	c := dial(t, addr)
	// Ten octets of the hundred announced, then nothing.
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	waitClosed(t, c)
	select {
	case err := <-readErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("handler's body read: %v, want a timeout", err)
		}
	case <-time.After(generous):
		t.Fatal("the handler is still reading")
	}
}

func TestUnreadBodyAfter401IsCut(t *testing.T) {
	addr, _ := serve(t, short, unauthorized)
	c := dial(t, addr)
	// The handler refuses without reading; net/http would read the body
	// announced before reusing the connection, and it never comes.
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	// (net/http tries to read the body before it sends the header, so the
	// 401 may or may not go out before the close.)
	if got := waitClosed(t, c); got != "" && !strings.HasPrefix(got, "HTTP/1.1 401") {
		t.Fatalf("got %q, want nothing or a 401 before the close", got)
	}
}

func TestIdleKeepAliveAfter401IsCut(t *testing.T) {
	addr, _ := serve(t, short, unauthorized)
	c := dial(t, addr)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(generous))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Close {
		t.Fatalf("status %d, close %v: want 401 on a keep-alive connection", resp.StatusCode, resp.Close)
	}
	// Now idle: the server closes it.
	if n, err := br.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("read %d octets, err %v; want the connection closed", n, err)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept an idle keep-alive open for %s", generous)
	}
}

func TestSlowHeaderIsCut(t *testing.T) {
	addr, _ := serve(t, short, unauthorized)
	c := dial(t, addr)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n") // no end of header
	waitClosed(t, c)
}

func TestResponseNeverReadIsCut(t *testing.T) {
	writeErr := make(chan error, 1)
	addr, _ := serve(t, short, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
	}))
	c := dial(t, addr)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	// The client reads nothing; the kernel buffers fill and the server's
	// write must fail at its deadline.
	select {
	case err := <-writeErr:
		if err == nil {
			t.Fatal("nil write error")
		}
	case <-time.After(generous):
		t.Fatal("the handler is still writing to a client that reads nothing")
	}
}

func TestBodyLimit(t *testing.T) {
	addr, _ := serve(t, short, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var me *http.MaxBytesError
		if errors.As(err, &me) {
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
			return
		}
		fmt.Fprintf(w, "%d", len(b))
	}))
	for _, tt := range []struct {
		size int
		code int
	}{{1 << 10, 200}, {1<<10 + 1, 413}, {1 << 20, 413}} {
		resp, err := http.Post("http://"+addr, "text/plain", strings.NewReader(strings.Repeat("a", tt.size)))
		if err != nil {
			// The server may close before the client has sent it all.
			if tt.code == 413 {
				continue
			}
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%d octets: %d, want %d", tt.size, resp.StatusCode, tt.code)
		}
	}
}

func TestConnectionCap(t *testing.T) {
	l := short
	l.HeaderTimeout, l.ReadTimeout, l.IdleTimeout = generous, generous, generous
	addr, cl := serve(t, l, unauthorized)
	// Two connections fill the cap; the server must have accepted both
	// before the third comes.
	held := []net.Conn{dial(t, addr), dial(t, addr)}
	testwait.Eventually(t, generous, func() error {
		if n := cl.Open(); n < 2 {
			return fmt.Errorf("%d connections accepted, want 2", n)
		}
		return nil
	})
	extra := dial(t, addr)
	if got := waitClosed(t, extra); got != "" {
		t.Fatalf("connection over the cap got %q", got)
	}
	if cl.Refused() != 1 {
		t.Fatalf("refused %d, want 1", cl.Refused())
	}
	// One held connection goes: a new client is served again.
	held[0].Close()
	testwait.For(t, "a slot freed after a connection closed", func() bool {
		c := dial(t, addr)
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		return strings.HasPrefix(waitClosed(t, c), "HTTP/1.1 401")
	})
	held[1].Close()
}

// TestStream: a streamed request outlives the totals while it makes
// progress, and is cut when it stops.
func TestStream(t *testing.T) {
	l := short
	l.ReadTimeout, l.WriteTimeout = 2*time.Second, 2*time.Second
	type result struct {
		n   int64
		err error
	}
	results := make(chan result, 1)
	addr, _ := serve(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, sw, err := Stream(w, r)
		if err != nil {
			results <- result{err: err}
			return
		}
		n, err := io.Copy(io.Discard, body)
		results <- result{n, err}
		if err == nil {
			fmt.Fprintf(sw, "%d", n)
		}
	}))
	// Progress every 20 ms for three times the read total, past the body
	// limit too.
	pr, pw := io.Pipe()
	go func() {
		chunk := strings.Repeat("a", 1<<10)
		for end := time.Now().Add(3 * l.ReadTimeout); time.Now().Before(end); {
			if _, err := io.WriteString(pw, chunk); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		pw.Close()
	}()
	resp, err := http.Post("http://"+addr, "text/plain", pr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := <-results
	if r.err != nil || resp.StatusCode != 200 || fmt.Sprint(r.n) != string(b) || r.n <= l.MaxBodyBytes {
		t.Fatalf("stream: %d %q, handler read %d, %v", resp.StatusCode, b, r.n, r.err)
	}
	// A stream that stops sending is cut after ReadTimeout.
	c := dial(t, addr)
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	waitClosed(t, c)
	select {
	case r := <-results:
		var ne net.Error
		if !errors.As(r.err, &ne) || !ne.Timeout() {
			t.Fatalf("stalled stream: %v, want a timeout", r.err)
		}
	case <-time.After(generous):
		t.Fatal("a stalled stream is still read")
	}
	// Outside a Limits server, Stream says so.
	if _, _, err := Stream(nil, (&http.Request{}).WithContext(t.Context())); !errors.Is(err, ErrNotLimited) {
		t.Fatalf("Stream outside: %v", err)
	}
}

// TestStreamResponse: a bodiless request streams its response for longer
// than both totals while it makes progress, its context alive.
func TestStreamResponse(t *testing.T) {
	l := short
	l.ReadTimeout, l.WriteTimeout = time.Second, time.Second
	addr, _ := serve(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sw, err := Stream(w, r)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
			if r.Context().Err() != nil {
				fmt.Fprint(sw, "cancelled\n")
				return
			}
			fmt.Fprint(sw, "line\n")
			sw.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
		}
		fmt.Fprint(sw, "done\n")
	}))
	resp, err := http.Get("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !strings.HasSuffix(string(b), "line\ndone\n") {
		t.Fatalf("stream: %v, ends %q", err, b[max(0, len(b)-20):])
	}
}

// serveProgress runs h under ProgressHandler(read, write) on a server with
// no totals, as a reverse proxy would.
func serveProgress(t *testing.T, h http.Handler, read, write time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ProgressHandler(h, read, write), ReadHeaderTimeout: generous, IdleTimeout: generous}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

func TestProgressHandler(t *testing.T) {
	const d = 500 * time.Millisecond
	events := make(chan error, 4)
	addr := serveProgress(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/read":
			_, err := io.Copy(io.Discard, r.Body)
			events <- err
			fmt.Fprint(w, "read")
		case "/write":
			chunk := make([]byte, 64<<10)
			for {
				if _, err := w.Write(chunk); err != nil {
					events <- err
					return
				}
			}
		case "/upgrade":
			c, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				events <- err
				return
			}
			defer c.Close()
			brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			brw.Flush()
			for {
				line, err := brw.ReadString('\n')
				if err != nil {
					return
				}
				brw.WriteString("echo " + line)
				brw.Flush()
			}
		default:
			fmt.Fprint(w, "ok")
		}
	}), d, d)

	t.Run("body stalls", func(t *testing.T) {
		c := dial(t, addr)
		fmt.Fprintf(c, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
		waitClosed(t, c)
		if err := <-events; err == nil {
			t.Fatal("a stalled body was read to its end")
		}
	})
	t.Run("response not taken", func(t *testing.T) {
		c := dial(t, addr)
		fmt.Fprintf(c, "GET /write HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case err := <-events:
			if err == nil {
				t.Fatal("nil write error")
			}
		case <-time.After(generous):
			t.Fatal("still writing to a client that reads nothing")
		}
	})
	t.Run("keep-alive after a pause", func(t *testing.T) {
		// Deadlines of one request do not hurt the next, however late it
		// comes: the second request, after three times the deadlines, is
		// read and answered.
		c := dial(t, addr)
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(generous))
		for i := 0; i < 2; i++ {
			fmt.Fprintf(c, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != "read" || <-events != nil {
				t.Fatalf("request %d: %q", i, b)
			}
			time.Sleep(3 * d)
		}
	})
	t.Run("upgraded connection outlives the deadlines", func(t *testing.T) {
		c := dial(t, addr)
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(generous))
		// A request first, so that its deadlines are on the connection.
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(br, nil); err != nil {
			t.Fatal(err)
		} else {
			io.Copy(io.Discard, resp.Body)
		}
		fmt.Fprintf(c, "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		time.Sleep(3 * d)
		fmt.Fprintf(c, "hi\n")
		if line, err := br.ReadString('\n'); err != nil || line != "echo hi\n" {
			t.Fatalf("after the pause: %q %v", line, err)
		}
	})
}
