package httpapi

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sync/singleflight"

	"github.com/ticketd-io/ticketd/internal/ticketing"
)

// A seat map of a large event is megabytes of JSON that every buyer's
// browser asks for, again and again, mostly unchanged. Each process keeps
// the latest rendering of each event's map, plain and gzipped, named by the
// map's version (layout, prices and the inventory's seat version); a request
// costs one short Redis script to learn the version, and a client holding
// the rendering's ETag gets 304.
//
// The layout part of each seat's JSON is rendered once per layout; a new
// rendering only appends the statuses and compresses. At most one rendering
// per event is in progress per process (the others wait for it), at most
// renderSlots at once, and with SeatMapRefresh set an event is re-rendered
// at most once per that period: in between, a map that changed is served as
// rendered, up to that much behind.

// defaultSeatMapCacheBytes bounds the renderings kept per process.
const defaultSeatMapCacheBytes = 128 << 20

type seatMapCache struct {
	refresh  time.Duration
	maxBytes int64
	now      func() time.Time
	group    singleflight.Group
	slots    chan struct{}

	mu    sync.Mutex
	byKey map[string]*list.Element // of *seatMapRendering
	lru   list.List                // front: most recently used
	bytes int64
}

// seatMapRendering is one event's seat map at one version, never changed
// once made.
type seatMapRendering struct {
	key     string
	version string
	etag    string
	at      time.Time
	plain   []byte
	gzipped []byte
	layout  *seatMapLayout
}

// seatMapLayout is the JSON of every seat up to its status:
// `{"id":…,"price":…,"status":"`, concatenated; ends[i] is where seat i's ends.
type seatMapLayout struct {
	version string
	buf     []byte
	ends    []int
}

func (r *seatMapRendering) size() int64 {
	return int64(len(r.plain) + len(r.gzipped) + len(r.layout.buf) + 8*len(r.layout.ends))
}

func newSeatMapCache(refresh time.Duration, maxBytes int64, renderSlots int) *seatMapCache {
	if maxBytes <= 0 {
		maxBytes = defaultSeatMapCacheBytes
	}
	return &seatMapCache{refresh: refresh, maxBytes: maxBytes, now: time.Now,
		slots: make(chan struct{}, max(renderSlots, 1)), byKey: map[string]*list.Element{}}
}

func (m *seatMapCache) get(key string) *seatMapRendering {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byKey[key]; ok {
		m.lru.MoveToFront(e)
		return e.Value.(*seatMapRendering)
	}
	return nil
}

func (m *seatMapCache) put(r *seatMapRendering) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.byKey[r.key]; ok {
		m.bytes -= e.Value.(*seatMapRendering).size()
		m.lru.Remove(e)
	}
	m.byKey[r.key] = m.lru.PushFront(r)
	m.bytes += r.size()
	for m.bytes > m.maxBytes && m.lru.Len() > 1 {
		old := m.lru.Back()
		m.lru.Remove(old)
		delete(m.byKey, old.Value.(*seatMapRendering).key)
		m.bytes -= old.Value.(*seatMapRendering).size()
	}
}

// current returns the rendering to serve for key when the map is at version:
// the cached one while it is at that version or younger than the refresh
// period, else a new one from load, made once however many ask.
func (m *seatMapCache) current(ctx context.Context, key, version string, load func(context.Context) (*ticketing.SeatMap, error)) (*seatMapRendering, error) {
	cached := m.get(key)
	if cached != nil && (cached.version == version || m.now().Sub(cached.at) < m.refresh) {
		return cached, nil
	}
	v, err, _ := m.group.Do(key, func() (any, error) {
		if r := m.get(key); r != nil && r != cached && (r.version == version || m.now().Sub(r.at) < m.refresh) {
			return r, nil // rendered while this request waited
		}
		m.slots <- struct{}{}
		defer func() { <-m.slots }()
		sm, err := load(ctx)
		if err != nil {
			return nil, err
		}
		var layout *seatMapLayout
		if cached != nil && cached.layout.version == sm.Layout && len(cached.layout.ends) == len(sm.Seats) {
			layout = cached.layout
		} else if layout, err = renderSeatLayout(sm); err != nil {
			return nil, err
		}
		r := renderSeatMap(key, sm, layout, m.now())
		m.put(r)
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*seatMapRendering), nil
}

// seatLayoutJSON is a seat of the map without its status, in the order of
// the response's fields.
type seatLayoutJSON struct {
	ID           string `json:"id"`
	Label        string `json:"label"`
	Section      string `json:"section"`
	Row          string `json:"row"`
	TicketTypeID string `json:"ticketTypeId"`
	Price        int64  `json:"price"`
}

func renderSeatLayout(sm *ticketing.SeatMap) (*seatMapLayout, error) {
	l := &seatMapLayout{version: sm.Layout, ends: make([]int, len(sm.Seats))}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i, st := range sm.Seats {
		if err := enc.Encode(seatLayoutJSON{ID: st.ID, Label: st.Label, Section: st.Section, Row: st.Row,
			TicketTypeID: st.TicketTypeID, Price: st.Price}); err != nil {
			return nil, err
		}
		// Encode ends the object with "}\n": continue it with the status.
		b.Truncate(b.Len() - 2)
		b.WriteString(`,"status":"`)
		l.ends[i] = b.Len()
	}
	l.buf = b.Bytes()
	return l, nil
}

func renderSeatMap(key string, sm *ticketing.SeatMap, l *seatMapLayout, now time.Time) *seatMapRendering {
	plain := make([]byte, 0, len(l.buf)+len(sm.Seats)*12+16)
	plain = append(plain, `{"data":[`...)
	start := 0
	for i, st := range sm.Seats {
		if i > 0 {
			plain = append(plain, ',')
		}
		plain = append(plain, l.buf[start:l.ends[i]]...)
		plain = append(plain, st.Status...) // available, held or sold: nothing to escape
		plain = append(plain, `"}`...)
		start = l.ends[i]
	}
	plain = append(plain, "]}"...)

	// At gzip's fastest level, since an event's map may be rendered every
	// SeatMapRefresh: 8.3 MB of seat map still shrinks to 1.3 MB.
	gzipped := gzipOf(plain, gzip.BestSpeed)
	sum := sha256.Sum256([]byte(sm.Version))
	return &seatMapRendering{key: key, version: sm.Version, at: now, plain: plain, gzipped: gzipped, layout: l,
		etag: `W/"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}
}

// seatMap answers GET /v1/events/:id/seats from the cached rendering.
func (s *Server) seatMap(c *fiber.Ctx) error {
	id, err := pathID(c, "event")
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	version, err := s.deps.Bookings.SeatMapVersion(ctx, id)
	if err != nil {
		return err
	}
	key := ticketing.TenantFromContext(ctx).ID + "|" + id
	r, err := s.seatMaps.current(ctx, key, version, func(ctx context.Context) (*ticketing.SeatMap, error) {
		return s.deps.Bookings.SeatMap(ctx, id)
	})
	if err != nil {
		return err
	}
	// The same for every caller: a shared cache may keep it, and must ask
	// again (If-None-Match) before reusing it.
	c.Set(fiber.HeaderETag, r.etag)
	c.Set(fiber.HeaderCacheControl, "public, no-cache")
	c.Vary(fiber.HeaderAcceptEncoding)
	if etagMatches(c.Get(fiber.HeaderIfNoneMatch), r.etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	if r.gzipped != nil && acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(r.gzipped)
	}
	return c.Send(r.plain)
}

// etagMatches is If-None-Match's weak comparison of a list of entity tags
// (or "*") with etag.
func etagMatches(header, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip (or *) listed with a q above 0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if name, value, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(name, "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}
