package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"slices"
	"strconv"
	"time"
)

// rawConn is one measured client's own kept-alive HTTP/1.1 connection,
// written and read in place. net/http's Transport costs a client about
// three times what wrk does per request (two goroutines per connection and
// the hand-offs between them, a Request, a Response and a Header map each
// time): on a 2-core machine where the load tool shares the cores with the
// server, that share is taken from the server. A rawConn is used by one
// goroutine at a time.
type rawConn struct {
	addr string // host:port to dial
	host string // the Host header

	conn net.Conn
	br   *bufio.Reader
	req  []byte // the request being written, reused
	body []byte // the last response's body, reused

	// cancelled is the context whose cancellation is wired to conn's deadline.
	cancelled context.Context
	stop      func() bool
}

func newRawConn(addr, host string) *rawConn {
	return &rawConn{addr: addr, host: host}
}

// rawResponse is what a request brought back. body is valid until the next request.
type rawResponse struct {
	status    int
	length    int    // Content-Length, or -1
	chunked   bool   // Transfer-Encoding: chunked
	json      bool   // Content-Type is application/json
	setCookie string // the twofold_session cookie's new value, when set
	cookieSet bool
	body      []byte
}

// errMalformed is an answer this client cannot read as HTTP/1.1.
var errMalformed = errors.New("malformed HTTP response")

// do sends one request and reads its answer. A failed exchange closes the
// connection (the next request dials again); it is never sent twice.
func (r *rawConn) do(ctx context.Context, method, path, cookie string, body []byte) (rawResponse, error) {
	if err := ctx.Err(); err != nil {
		return rawResponse{}, err
	}
	if r.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, "tcp", r.addr)
		if err != nil {
			return rawResponse{}, err
		}
		r.conn = c
		if r.br == nil {
			r.br = bufio.NewReaderSize(c, 16<<10)
		} else {
			r.br.Reset(c)
		}
	}
	if r.cancelled != ctx {
		// Ending the run cuts off a request in flight. (Each rawConn serves
		// one run: an earlier context's cut-off still running could
		// otherwise hit this request.)
		if r.stop != nil {
			r.stop()
		}
		conn := r.conn
		r.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
		r.cancelled = ctx
	}
	now := time.Now()
	deadline := now.Add(30 * time.Second)
	end, ok := ctx.Deadline()
	if ok && end.Before(deadline) {
		deadline = end
	}
	// The connection's deadline can pass before ctx reports it is done.
	if !now.Before(deadline) {
		return rawResponse{}, context.DeadlineExceeded
	}
	if err := r.conn.SetDeadline(deadline); err != nil {
		r.close()
		return rawResponse{}, err
	}
	if err := ctx.Err(); err != nil { // ended after the check above: its cut-off may have been overwritten
		return rawResponse{}, err
	}
	r.req = appendRequest(r.req[:0], method, path, r.host, cookie, body)
	_, err := r.conn.Write(r.req)
	var res rawResponse
	keep := false
	if err == nil {
		res, keep, err = readResponse(r.br, r.body[:0])
	}
	if err != nil {
		r.close()
		if ok && !time.Now().Before(end) {
			return rawResponse{}, context.DeadlineExceeded // cut off by ctx's end
		}
		return rawResponse{}, err
	}
	r.body = res.body
	if !keep {
		r.close()
	}
	return res, nil
}

func (r *rawConn) close() {
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	if r.stop != nil {
		r.stop()
		r.stop = nil
	}
	r.cancelled = nil
}

// appendRequest appends an HTTP/1.1 request with a JSON body (or none) and
// the session cookie (when not empty) to b.
func appendRequest(b []byte, method, path, host, cookie string, body []byte) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: twofold-load\r\n"...)
	if body != nil {
		b = append(b, "Content-Type: application/json\r\n"...)
	}
	if body != nil || method == "POST" || method == "PUT" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	if cookie != "" {
		b = append(b, "Cookie: twofold_session="...)
		b = append(b, cookie...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// maxBody bounds a response body this client reads.
const maxBody = 1 << 20

// readResponse reads one response to a request that was not HEAD, with its
// body in buf's storage. keep is false when the server closes the
// connection after it.
func readResponse(br *bufio.Reader, buf []byte) (res rawResponse, keep bool, err error) {
	for {
		res, keep, err = readHead(br)
		if err != nil {
			return res, false, err
		}
		if res.status >= 200 {
			break
		}
		if res.status == 101 {
			return res, false, fmt.Errorf("%w: 101 Switching Protocols", errMalformed)
		}
		// 100 Continue and other interim answers: the real one follows.
	}
	return readBody(br, buf, res, keep)
}

// maxHeader bounds a response's status line and headers together.
const maxHeader = 64 << 10

// readHead reads a status line and headers.
func readHead(br *bufio.Reader) (res rawResponse, keep bool, err error) {
	line, err := readLine(br)
	if err != nil {
		return res, false, err
	}
	total := len(line)
	// "HTTP/1.1 401 Unauthorized"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return res, false, fmt.Errorf("%w: status line", errMalformed)
	}
	res.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || res.status < 100 {
		return res, false, fmt.Errorf("%w: status code", errMalformed)
	}
	keep = line[7] == '1' // HTTP/1.1 keeps the connection unless told otherwise
	res.length = -1
	for {
		line, err := readLine(br)
		if err != nil {
			return res, false, err
		}
		if len(line) == 0 {
			break
		}
		if total += len(line); total > maxHeader {
			return res, false, fmt.Errorf("%w: headers over %d bytes", errMalformed, maxHeader)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return res, false, fmt.Errorf("%w: header line", errMalformed)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 || n > maxBody || (res.length >= 0 && n != res.length) {
				return res, false, fmt.Errorf("%w: Content-Length", errMalformed)
			}
			res.length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) {
				return res, false, fmt.Errorf("%w: Transfer-Encoding", errMalformed)
			}
			res.chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				if bytes.EqualFold(bytes.TrimSpace(tok), []byte("close")) {
					keep = false
				}
			}
		case bytes.EqualFold(name, []byte("Content-Type")):
			res.json = bytes.HasPrefix(value, []byte("application/json"))
		case bytes.EqualFold(name, []byte("Set-Cookie")):
			if v, ok := bytes.CutPrefix(value, []byte("twofold_session=")); ok {
				v, _, _ = bytes.Cut(v, []byte(";"))
				res.setCookie, res.cookieSet = string(v), true
			}
		}
	}
	return res, keep, nil
}

// readBody reads the body of the response whose head is res, in buf's storage.
func readBody(br *bufio.Reader, buf []byte, res rawResponse, keep bool) (rawResponse, bool, error) {
	switch length := res.length; {
	case res.status == 204 || res.status == 304:
		// no body
	case res.chunked:
		var err error
		if buf, err = appendBounded(buf, httputil.NewChunkedReader(br)); err != nil {
			return res, false, fmt.Errorf("%w: chunked body: %w", errMalformed, err)
		}
		// Trailer fields, which nothing here reads, then a blank line.
		for total := 0; ; {
			line, err := readLine(br)
			if err != nil {
				return res, false, fmt.Errorf("%w: chunked trailer: %w", errMalformed, err)
			}
			if len(line) == 0 {
				break
			}
			if total += len(line); total > maxHeader {
				return res, false, fmt.Errorf("%w: trailer over %d bytes", errMalformed, maxHeader)
			}
		}
	case length >= 0:
		buf = slices.Grow(buf, length)[:len(buf)+length]
		if _, err := io.ReadFull(br, buf[len(buf)-length:]); err != nil {
			return res, false, err
		}
	default:
		// Delimited by the end of the connection.
		var err error
		if buf, err = appendBounded(buf, br); err != nil {
			return res, false, err
		}
		keep = false
	}
	res.body = buf
	return res, keep, nil
}

// appendBounded appends what r holds to buf, up to maxBody bytes.
func appendBounded(buf []byte, r io.Reader) ([]byte, error) {
	b := bytes.NewBuffer(buf)
	if _, err := io.Copy(b, io.LimitReader(r, maxBody+1)); err != nil {
		return nil, err
	}
	if b.Len() > maxBody {
		return nil, fmt.Errorf("%w: body over %d bytes", errMalformed, maxBody)
	}
	return b.Bytes(), nil
}

// maxLine bounds a status or header line.
const maxLine = 8 << 10

// readLine returns the next CRLF- (or LF-) terminated line without its
// end; it is valid until the next read from br.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLine {
		return nil, fmt.Errorf("%w: line over %d bytes", errMalformed, maxLine)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
