package mailsink

import (
	"html/template"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>ticketd dev: mail</title>
<style>
body { font-family: sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em; }
article { border-top: 1px solid #ccc; padding: 0.5em 0; }
h2 { font-size: 1.1em; margin: 0.3em 0; }
.meta { color: #555; font-size: 0.9em; margin: 0.2em 0; }
pre { background: #f6f6f6; padding: 0.8em; white-space: pre-wrap; overflow-wrap: anywhere; }
</style></head>
<body>
<h1>Mail sent by ticketd dev</h1>
<p class="meta">{{len .Mails}} mail(s), newest first; the last {{.Keep}} are kept in memory until ticketd stops. Nothing here left this machine. Reload to see new mail.</p>
{{range .Mails}}<article id="mail-{{.ID}}">
<h2>{{.Subject}}</h2>
<p class="meta">To {{.To}} &middot; from {{.From}} &middot; {{.At}}</p>
<p class="meta">{{if .HTML}}<a href="/mail/{{.ID}}/html">HTML version</a> &middot; {{end}}<a href="/mail/{{.ID}}/raw">source</a>{{range .Attachments}} &middot; <a href="{{.Link}}">{{.Filename}}</a> ({{.Size}} bytes, {{.ContentType}}){{end}}</p>
<pre>{{.Text}}</pre>
</article>
{{else}}<p>No mail yet. Book and pay for tickets on the demo organizer and the confirmation shows up here.</p>
{{end}}</body></html>
`))

type mailView struct {
	ID                    int
	Subject, To, From, At string
	Text                  string
	HTML                  bool
	Attachments           []attachmentView
}

type attachmentView struct {
	Link, Filename, ContentType string
	Size                        int
}

// ServeHTTP serves the page that lists the mails kept, each mail's HTML
// body and source, and its attachments. It answers only requests addressed
// to a loopback host, so a web page cannot read it through DNS rebinding.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !loopbackHost(r.Host) {
		http.Error(w, "this page answers on localhost only", http.StatusMisdirectedRequest)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/" {
		s.list(w)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/mail/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	parts := strings.Split(rest, "/")
	id, err := strconv.Atoi(parts[0])
	m := s.mail(id)
	if err != nil || m == nil || len(parts) < 2 {
		http.NotFound(w, r)
		return
	}
	switch {
	case len(parts) == 2 && parts[1] == "html" && m.HTML != "":
		// The mail's own HTML, with no script, no form, nothing fetched
		// from elsewhere.
		w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(m.HTML))
	case len(parts) == 2 && parts[1] == "raw":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(m.Raw)
	case len(parts) == 3 && parts[1] == "attachments":
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 0 || n >= len(m.Attachments) {
			http.NotFound(w, r)
			return
		}
		a := m.Attachments[n]
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Filename}))
		_, _ = w.Write(a.Data)
	default:
		http.NotFound(w, r)
	}
}

func (s *Sink) list(w http.ResponseWriter) {
	mails := s.Mails()
	slices.Reverse(mails)
	views := make([]mailView, len(mails))
	for i, m := range mails {
		v := mailView{ID: m.ID, Subject: m.Subject, To: strings.Join(m.To, ", "), From: m.From,
			At: m.At.Format(time.DateTime), Text: m.Text, HTML: m.HTML != ""}
		for n, a := range m.Attachments {
			v.Attachments = append(v.Attachments, attachmentView{Link: "/mail/" + strconv.Itoa(m.ID) + "/attachments/" + strconv.Itoa(n),
				Filename: a.Filename, ContentType: a.ContentType, Size: len(a.Data)})
		}
		views[i] = v
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, struct {
		Mails []mailView
		Keep  int
	}{views, s.cfg.Keep})
}

// loopbackHost reports whether a request's Host names this machine:
// localhost, a name under .localhost, or a loopback address.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
