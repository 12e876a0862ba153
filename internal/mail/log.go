package mail

import (
	"context"
	"log/slog"
)

// LogSender stands in for SMTP when SMTP_URL is not set: it sends nothing
// and logs, at info, that a mail was not sent, with its recipient masked,
// its subject and size. The outbox records such mails as sent "via log".
type LogSender struct {
	logger *slog.Logger
}

var _ Sender = (*LogSender)(nil)

// NewLogSender logs to logger.
func NewLogSender(logger *slog.Logger) *LogSender { return &LogSender{logger: logger} }

// Via implements Sender.
func (s *LogSender) Via() string { return "log" }

// Send implements Sender.
func (s *LogSender) Send(ctx context.Context, m *Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	s.logger.InfoContext(ctx, "mail not sent: SMTP_URL is not set", "to", MaskAddress(m.To), "subject", m.Subject,
		"bytes", m.Size(), "attachments", len(m.Attachments))
	return nil
}
