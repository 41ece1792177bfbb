// Package e2e runs real raftvip agents in the network-namespace lab of
// docs/design.md ("The test lab") and judges them from the lab's client
// namespace: who holds the VIP, who answers it, and where the client's
// neighbour entry points. Every test builds its own lab; the binaries are built
// once, here.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// bins are the binaries every test runs; empty when not root (the tests skip).
var bins struct {
	raftvip   string
	responder string
}

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	// Without root every test skips (or fails under CI=true, lab.RequireRoot):
	// nothing would use the binaries.
	if os.Geteuid() != 0 {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "raftvip-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := build(context.Background(), dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

func build(ctx context.Context, dir string) error {
	var err error
	if bins.raftvip, err = rig.Build(ctx, dir); err != nil {
		return err
	}
	// The lab's stand-in service, built once for every lab.
	bins.responder, err = lab.BuildResponder(ctx, dir)
	return err
}
