package mailsink_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ticketd-io/ticketd/internal/mail"
	"github.com/ticketd-io/ticketd/internal/mail/mailsink"
)

func startSink(t *testing.T, cfg mailsink.Config) (*mailsink.Sink, *mail.SMTPSender) {
	t.Helper()
	sink := mailsink.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sink.Serve(ln) }()
	t.Cleanup(func() {
		_ = sink.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	s, err := mail.NewSMTPSender(mail.SMTPConfig{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: mail.TLSNone,
		Timeout: 10 * time.Second}, "ticketd <no-reply@localhost>")
	if err != nil {
		t.Fatal(err)
	}
	return sink, s
}

func get(t *testing.T, h http.Handler, host, path string) (*http.Response, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Host = host
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Result(), string(body)
}

// TestPageListsMailEscapedWithAttachments: the dev page shows what was
// sent, escaped, with the HTML body sandboxed and attachments to download.
func TestPageListsMailEscapedWithAttachments(t *testing.T) {
	t.Parallel()
	sink, sender := startSink(t, mailsink.Config{})
	pdf := []byte("%PDF-1.7 not really\x00\x01")
	err := sender.Send(t.Context(), &mail.Message{To: "ada@example.com", Subject: "Booking confirmed: <script>alert(1)</script>",
		Text: "Hello <b>Ada</b>", HTML: "<p>Hello <b>Ada</b></p><script>alert(2)</script>",
		Attachments: []mail.Attachment{{Filename: "tickets.pdf", ContentType: "application/pdf", Data: pdf}}})
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, sink, "localhost:8025", "/")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("page: %d %v", res.StatusCode, res.Header)
	}
	for _, want := range []string{"Booking confirmed: &lt;script&gt;alert(1)&lt;/script&gt;", "Hello &lt;b&gt;Ada&lt;/b&gt;",
		"ada@example.com", `href="/mail/1/html"`, `href="/mail/1/raw"`, `href="/mail/1/attachments/0"`, "tickets.pdf"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Errorf("the page carries the mail's markup:\n%s", body)
	}

	res, body = get(t, sink, "127.0.0.1:8025", "/mail/1/html")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Security-Policy"), "sandbox") || !strings.Contains(body, "<b>Ada</b>") {
		t.Errorf("HTML body: %d %q %q", res.StatusCode, res.Header.Get("Content-Security-Policy"), body)
	}
	res, body = get(t, sink, "[::1]:8025", "/mail/1/attachments/0")
	if res.StatusCode != http.StatusOK || body != string(pdf) || res.Header.Get("Content-Type") != "application/octet-stream" ||
		res.Header.Get("Content-Disposition") != `attachment; filename=tickets.pdf` {
		t.Errorf("attachment: %d %v %q", res.StatusCode, res.Header, body)
	}
	res, body = get(t, sink, "localhost", "/mail/1/raw")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, "Subject:") {
		t.Errorf("raw: %d %v", res.StatusCode, res.Header)
	}
	for _, path := range []string{"/mail/2/raw", "/mail/1/attachments/1", "/mail/x/raw", "/mail/1", "/other"} {
		if res, _ := get(t, sink, "localhost", path); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
}

// TestPageAnswersLoopbackHostsOnly: a site that rebinds its name to
// 127.0.0.1 cannot read buyers' mail through the browser.
func TestPageAnswersLoopbackHostsOnly(t *testing.T) {
	t.Parallel()
	sink := mailsink.New(mailsink.Config{})
	for _, host := range []string{"evil.example:8025", "10.0.0.1:8025", "localhost.evil.example"} {
		if res, _ := get(t, sink, host, "/"); res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("Host %s: %d, want 421", host, res.StatusCode)
		}
	}
	for _, host := range []string{"localhost:8025", "demo.localhost:8025", "127.0.0.1:8025", "[::1]:8025"} {
		if res, _ := get(t, sink, host, "/"); res.StatusCode != http.StatusOK {
			t.Errorf("Host %s: %d, want 200", host, res.StatusCode)
		}
	}
}

func TestSinkKeepsTheLastMails(t *testing.T) {
	t.Parallel()
	sink, sender := startSink(t, mailsink.Config{Keep: 3})
	for i := range 5 {
		if err := sender.Send(t.Context(), &mail.Message{To: "a@example.com", Subject: "mail " + strconv.Itoa(i), Text: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	got := sink.Mails()
	if len(got) != 3 || got[0].Subject != "mail 2" || got[2].Subject != "mail 4" {
		t.Fatalf("kept %d mails, first %q", len(got), got[0].Subject)
	}
}

func TestSinkRequiresAuthWhenConfigured(t *testing.T) {
	t.Parallel()
	sink, sender := startSink(t, mailsink.Config{Username: "u", Password: "p"})
	if err := sender.Send(t.Context(), &mail.Message{To: "a@example.com", Subject: "s", Text: "x"}); err == nil {
		t.Fatal("accepted mail without authentication")
	}
	if n := len(sink.Mails()); n != 0 {
		t.Fatalf("kept %d mails", n)
	}
}

// TestCloseBeforeServeStopsIt: a Close that comes before Serve has started
// accepting (a test that ends at once) still makes Serve return.
func TestCloseBeforeServeStopsIt(t *testing.T) {
	t.Parallel()
	for range 50 {
		sink := mailsink.New(mailsink.Config{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		start := make(chan struct{})
		go func() {
			<-start
			done <- sink.Serve(ln)
		}()
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		close(start)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Serve still accepting 30s after Close")
		}
	}
}
