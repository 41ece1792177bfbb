package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// uiPort is the status page's port on every node.
const uiPort = 8090

// pageFollows bounds how long the page may lag behind the cluster: it polls
// every 500 ms, so a change shows within one poll and a render.
const pageFollows = 2 * time.Second

// uiToken is the page's read-only token in this test (not the cluster's).
const uiToken = "status-page-token-e2e"

// TestStatusPageInBrowser drives the status page in headless Chromium from
// the client namespace: it asks for its token, shows the holder, shows a node
// whose check fails as failing, and after the holder's host is lost shows,
// on a surviving node, the new holder and a new entry in the timeline.
// RAFTVIP_UI_SCREENSHOTS=<dir> keeps its screenshots there (docs/img holds one).
func TestStatusPageInBrowser(t *testing.T) {
	lab.RequireRoot(t)
	chromium := requireChromium(t)
	e := newHAEnv(t, nil, false)
	tokenFile := filepath.Join(e.lab.Dir(), "ui-token")
	if err := os.WriteFile(tokenFile, []byte(uiToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withConfig := e.c.PerNode
	e.c.PerNode = func(i int) []string {
		return append(withConfig(i), "-ui-addr", netip.AddrPortFrom(e.lab.NodeIP(i), uiPort).String(),
			"-ui-token-file", tokenFile)
	}
	old := e.startCluster()
	survivor, failing := others(old)
	for i := 1; i <= 3; i++ {
		e.reported(old, i, true)
	}

	b := newBrowser(t, chromium, e.lab.ClientNS())
	b.open(fmt.Sprintf("http://%s/", netip.AddrPortFrom(e.lab.NodeIP(survivor), uiPort)))
	b.await("the page to ask for its token", settle, `!document.getElementById("login").hidden`, "true")
	b.run(chromedp.SendKeys(chromedp.ID("token"), uiToken), chromedp.Click(chromedp.CSS("#login button")))
	b.await("the page to show the holder", settle, `document.getElementById("holder").dataset.holder`, lab.NodeName(old))
	b.screenshot("status-page-steady.png")

	e.setHealthy(failing, false)
	e.reported(survivor, failing, false)
	b.await(fmt.Sprintf("the page to show n%d failing", failing), pageFollows,
		fmt.Sprintf(`document.querySelector('#members tr[data-id="%s"]').dataset.health`, lab.NodeName(failing)), "failing")
	entries := b.eval(`document.querySelectorAll("#history tbody tr").length`)

	downAt := time.Now()
	if err := e.lab.HostDown(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	// The healthy survivor ends up holding: the node whose check fails may
	// win the election, but hands over (or claims only until it can).
	e.await(fmt.Sprintf("n%d, the healthy survivor, to hold the VIP", survivor), settle,
		func() error { return e.holdersAre(vip, survivor) })
	n := survivor
	heldAfter := since(downAt)
	b.await("the page to show the new holder", pageFollows, `document.getElementById("holder").dataset.holder`, lab.NodeName(n))
	b.await("a new entry at the top of the timeline", pageFollows,
		`(() => { const r = document.querySelectorAll("#history tbody tr");
		  return r.length + " " + r[0].dataset.to + " " + r[0].dataset.reason; })()`,
		fmt.Sprintf("%d %s election", atoi(t, entries)+1, lab.NodeName(n)))
	t.Logf("measured: host loss of n%d: n%d holds the VIP after %v; the page on n%d showed it after %v",
		old, n, heldAfter, survivor, since(downAt))
	// Only the leader knows whether its peers answer: the page on a follower
	// leaves the lost host's contact blank rather than guess.
	lostContact := fmt.Sprintf(`document.querySelector('#members tr[data-id="%s"]').dataset.contact`, lab.NodeName(old))
	if n == survivor {
		b.await("the lost host shown as unreachable", settle, lostContact, "unreachable")
	} else {
		b.await("the lost host's contact left blank on a follower's page", settle, lostContact, "")
	}
	b.screenshot("status-page.png")
	if out := b.eval(`document.body.innerText`); strings.Contains(out, uiToken) {
		t.Errorf("the page shows its token:\n%s", out)
	}
}

// requireChromium returns Chromium's path; without it the test skips, or
// fails under CI=true (scripts/lab-deps.sh installs it there).
func requireChromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed and CI=true: refusing to skip (scripts/lab-deps.sh installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium, or scripts/lab-deps.sh)")
	return ""
}

// others returns the two nodes of three that are not i.
func others(i int) (int, int) {
	var o []int
	for n := 1; n <= 3; n++ {
		if n != i {
			o = append(o, n)
		}
	}
	return o[0], o[1]
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// browser is one headless Chromium tab whose process runs in a lab
// namespace: every connection it makes starts there, as a browser on a
// client's host would.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts Chromium in namespace ns. chromedp talks to it over the
// pipe of --remote-debugging-pipe (file descriptors 3 and 4), which `ip netns
// exec` passes on, so no debugging port is opened anywhere.
func newBrowser(t *testing.T, chromium, ns string) *browser {
	t.Helper()
	wrapper := filepath.Join(t.TempDir(), "chromium-in-"+ns)
	script := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", ns, chromium)
	if err := os.WriteFile(wrapper, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(wrapper),
		chromedp.NoSandbox, // root in the lab; the page is the project's own
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser, with the test's own context:
	// a timeout here would stop the browser when it ends.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium in %s: %v", ns, err)
	}
	return &browser{t: t, ctx: ctx}
}

func (b *browser) run(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, settle)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) open(url string) { b.t.Helper(); b.run(chromedp.Navigate(url)) }

// eval returns what expression js evaluates to in the page, as text.
func (b *browser) eval(js string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, settle)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
	if err != nil {
		b.t.Fatal(err)
	}
	return fmt.Sprint(res)
}

// await polls js in the page until it evaluates to want, for at most timeout.
func (b *browser) await(what string, timeout time.Duration, js, want string) {
	b.t.Helper()
	err := probe.Until(b.ctx, what, timeout, func() error {
		ctx, cancel := context.WithTimeout(b.ctx, time.Second)
		defer cancel()
		res, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
		if err != nil {
			return err
		}
		if got := fmt.Sprint(res); got != want {
			return fmt.Errorf("the page says %q", got)
		}
		return nil
	})
	if err != nil {
		b.t.Fatal(err)
	}
}

// screenshot saves the whole page as name in $RAFTVIP_UI_SCREENSHOTS, or in
// the test's temp dir.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, settle)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	dir := os.Getenv("RAFTVIP_UI_SCREENSHOTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}
