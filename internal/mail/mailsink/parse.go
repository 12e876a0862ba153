package mailsink

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"

	"github.com/ticketd-io/ticketd/internal/mail"
)

// Bounds of a message's MIME tree the sink walks.
const (
	maxDepth = 8
	maxParts = 100
)

// parse reads a received message: its header, decoded subject, the first
// text/plain and text/html parts, and the attachments.
func parse(raw []byte) (*Mail, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	m := &Mail{Header: msg.Header, Subject: subject}
	parts := 0
	err = m.walk(textproto.MIMEHeader(msg.Header), msg.Body, 0, &parts)
	return m, err
}

func (m *Mail) walk(h textproto.MIMEHeader, body io.Reader, depth int, parts *int) error {
	if *parts++; depth > maxDepth || *parts > maxParts {
		return errors.New("too many MIME parts")
	}
	mediaType, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mediaType, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := m.walk(p.Header, p, depth+1, parts); err != nil {
				return err
			}
		}
	}
	data, err := io.ReadAll(decode(h.Get("Content-Transfer-Encoding"), body))
	if err != nil {
		return err
	}
	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	filename := dparams["filename"]
	if filename == "" {
		filename = params["name"]
	}
	switch {
	case disposition == "attachment" || filename != "":
		if filename == "" {
			filename = "attachment"
		}
		m.Attachments = append(m.Attachments, mail.Attachment{Filename: filename, ContentType: mediaType, Data: data})
	case mediaType == "text/plain" && m.Text == "":
		m.Text = string(data)
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = string(data)
	}
	return nil
}

// decode undoes a part's Content-Transfer-Encoding.
func decode(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}
