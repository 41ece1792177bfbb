package lab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"time"
)

// responderPkg is the responder's import path, built with `go build`, so
// building it needs the Go toolchain and a working directory in this module.
const responderPkg = "github.com/raftvip/raftvip/e2e/internal/responder"

// BuildResponder builds the responder into dir and returns its absolute path,
// for Options.Responder: a caller running many labs builds it once.
func BuildResponder(ctx context.Context, dir string) (string, error) {
	bin, err := filepath.Abs(filepath.Join(dir, "responder"))
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, responderPkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w: %s", responderPkg, err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// StartResponders starts, in every node's namespace, a responder that answers
// connections to port 8000 (any address, the VIP included) with the node's
// name, and returns once they all answer. Nodes added later get one too.
// Close ends them. A second call does nothing.
func (l *Lab) StartResponders(ctx context.Context) error {
	l.mu.Lock()
	started := l.responding
	l.mu.Unlock()
	if started {
		return nil
	}
	bin, err := l.responderBin(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.responder = bin
	l.responding = true
	n := len(l.nodes)
	l.mu.Unlock()
	for i := 1; i <= n; i++ {
		if _, err := l.startResponder(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) startResponder(ctx context.Context, i int) (*Proc, error) {
	l.mu.Lock()
	bin := l.responder
	l.mu.Unlock()
	log := filepath.Join(l.dir, NodeName(i)+"-responder.log")
	argv := []string{bin, "-name", NodeName(i), "-listen", fmt.Sprintf(":%d", ResponderPort)}
	p, err := l.startIn(ctx, l.NodeNS(i), NodeName(i)+"-responder", log, argv, nil)
	if err != nil {
		return nil, err
	}
	return p, l.awaitResponder(ctx, i, p)
}

// responderReady bounds how long a responder may take to listen.
const responderReady = 10 * time.Second

// awaitResponder polls node i's responder over the node's own loopback until
// it answers, so tests and probes start against a listening service.
func (l *Lab) awaitResponder(ctx context.Context, i int, p *Proc) error {
	ctx, cancel := context.WithTimeout(ctx, responderReady)
	defer cancel()
	addr := Responder(netip.IPv6Loopback())
	for {
		name, err := AskFrom(ctx, l.NodeNS(i), addr, 100*time.Millisecond)
		if err == nil && name == NodeName(i) {
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("responder n%d exited: %w (see %s)", i, p.err, l.dir)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("responder n%d not answering: %v: %w", i, err, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// responderBin returns the configured responder binary, or builds one into
// the lab's directory.
func (l *Lab) responderBin(ctx context.Context) (string, error) {
	l.mu.Lock()
	bin := l.responder
	l.mu.Unlock()
	if bin != "" {
		return bin, nil
	}
	return BuildResponder(ctx, l.dir)
}
