// Package ui serves raftvip's status page: one read-only page at / that shows
// who holds the VIPs, the members with their health, and the replicated
// failover history, updated live from /ui/status.json. It has no build step
// and no external assets (everything is embedded), so it works offline, and
// it shows nothing secret: its JSON is built field by field (View).
package ui

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster"
)

//go:embed static
var static embed.FS

// Source is what the page reads: a cluster node's status.
type Source interface {
	Status() cluster.Status
}

// SourceFunc adapts a function to Source.
type SourceFunc func() cluster.Status

// Status calls f.
func (f SourceFunc) Status() cluster.Status { return f() }

// DefaultStaleAfter is how old a follower's last contact with the leader may
// be before the page says it has lost contact with the cluster: several
// heartbeats of the slowest timing profile (wan, 1 s).
const DefaultStaleAfter = 3 * time.Second

// ErrClusterToken: the UI token is the cluster token. The page's token is
// kept in browsers and typed on wall screens; the cluster token moves VIPs.
var ErrClusterToken = errors.New("the UI token must not be the cluster token")

// Config is what New needs.
type Config struct {
	Source Source
	// Token, when set, is the bearer token the page's JSON requests must
	// present; empty means the page is open to whoever reaches the listener.
	Token []byte
	// ClusterToken is the cluster's API token, only to refuse a Token equal to it.
	ClusterToken []byte
	// StaleAfter: see DefaultStaleAfter (used when 0).
	StaleAfter time.Duration
	Logger     *slog.Logger
}

// Server serves the status page.
type Server struct {
	cfg  Config
	log  *slog.Logger
	http *http.Server
}

// New checks cfg and returns a server; it starts nothing.
func New(cfg Config) (*Server, error) {
	if cfg.Source == nil {
		return nil, errors.New("ui: no status source")
	}
	if len(cfg.Token) > 0 && subtle.ConstantTimeCompare(cfg.Token, cfg.ClusterToken) == 1 {
		return nil, fmt.Errorf("ui: %w: give the page a token of its own", ErrClusterToken)
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log.With("component", "ui")}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler returns the page's routes: /, /ui/app.js, /ui/app.css and
// /ui/status.json. Only GET and HEAD are served.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	files, _ := fs.Sub(static, "static")
	mux.Handle("GET /{$}", asset(files, "index.html", "text/html; charset=utf-8"))
	mux.Handle("GET /ui/app.js", asset(files, "app.js", "text/javascript; charset=utf-8"))
	mux.Handle("GET /ui/app.css", asset(files, "app.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /ui/status.json", s.serveStatus)
	return headers(mux)
}

// Serve serves the page on ln until Shutdown, then returns nil. It warns
// when the page is open to anyone who reaches a listener beyond loopback.
func (s *Server) Serve(ln net.Listener) error {
	if len(s.cfg.Token) == 0 && !Loopback(ln.Addr()) {
		s.log.Warn("the status page is open to anyone who reaches its listener: "+
			"set -ui-token-file, or listen on loopback", "ui_addr", ln.Addr().String())
	}
	s.log.Info("status page listening", "ui_addr", ln.Addr().String(), "token", len(s.cfg.Token) > 0)
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("ui: %w", err)
	}
	return nil
}

// Shutdown stops Serve, waiting for requests under way until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.http.Shutdown(ctx)
}

// Close stops Serve and closes every connection at once, ending the
// requests under way: for when Shutdown ran out of time.
func (s *Server) Close() error {
	return s.http.Close()
}

// Loopback reports whether a is a loopback address, which only this host reaches.
func Loopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="raftvip status page"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "this page needs its read-only token"})
		return
	}
	writeJSON(w, http.StatusOK, buildView(s.cfg.Source.Status(), time.Now(), s.cfg.StaleAfter))
}

// authorized checks the bearer token, in constant time, when one is set.
func (s *Server) authorized(r *http.Request) bool {
	if len(s.cfg.Token) == 0 {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), s.cfg.Token) == 1
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode status", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// asset serves one embedded file.
func asset(files fs.FS, name, contentType string) http.Handler {
	b, err := fs.ReadFile(files, name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			http.Error(w, "missing "+name, http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", contentType)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	})
}

// headers adds what keeps the page to itself: no script, style or
// connection from elsewhere, no framing by another site, no caching of the
// status and no referrer.
func headers(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
			"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}
