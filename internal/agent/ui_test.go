package agent

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftvip/raftvip/internal/testutil"
	"github.com/raftvip/raftvip/internal/ui"
)

// pageStatus fetches n's status page JSON with token ("" for none) and
// fails t unless it is served.
func pageStatus(t *testing.T, n *node, token string) ui.View {
	t.Helper()
	code, v := getPage(t, n, token)
	if code != http.StatusOK {
		t.Fatalf("%s's status page answered %d", n.id, code)
	}
	return v
}

func getPage(t *testing.T, n *node, token string) (int, ui.View) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+n.cfg.UIAddr+"/ui/status.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// No connection is kept: none may outlive the test (goleak).
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("status page of %s: %v", n.id, err)
	}
	defer resp.Body.Close()
	var v ui.View
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatalf("status page of %s: %v", n.id, err)
		}
	}
	return resp.StatusCode, v
}

// TestStatusPage: with -ui-addr and -ui-token-file the agent serves the
// status page of its own node on the listener of its own, only to the
// page's token, and stops serving it when Run returns.
func TestStatusPage(t *testing.T) {
	c := newTestCluster(t)
	tokenFile := filepath.Join(t.TempDir(), "ui-token")
	if err := os.WriteFile(tokenFile, []byte("wall-screen\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := c.node(1, func(cfg *Config) { cfg.Bootstrap, cfg.UIAddr, cfg.UITokenFile = true, "127.0.0.1:1", tokenFile })
	n.start(t)
	ready(t, n)
	if code, _ := getPage(t, n, ""); code != http.StatusUnauthorized {
		t.Errorf("the page without its token answered %d, want 401", code)
	}
	if code, _ := getPage(t, n, "s3cret"); code != http.StatusUnauthorized {
		t.Errorf("the page with the cluster token answered %d, want 401", code)
	}
	testutil.Eventually(t, testutil.WaitLimit, "the page to show n1 holding", func() bool {
		return pageStatus(t, n, "wall-screen").Holder == "n1"
	})
	if err := n.stop(t); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + n.cfg.UIAddr + "/"); err == nil {
		t.Error("the status page is still served after Run returned")
	}
}

// TestStatusPageRefusesTheClusterToken: a page token equal to the cluster
// token stops New before the data dir is touched: the page's token is kept
// in browsers, the cluster token moves VIPs.
func TestStatusPageRefusesTheClusterToken(t *testing.T) {
	c := newTestCluster(t)
	cfg := DefaultConfig()
	cfg.ID, cfg.RaftAddr, cfg.HTTPAddr = "n1", "192.0.2.11:7000", "127.0.0.1:1"
	cfg.DataDir, cfg.TokenFile, cfg.InsecurePlaintext = filepath.Join(t.TempDir(), "data"), c.token, true
	cfg.UIAddr, cfg.UITokenFile = "127.0.0.1:2", c.token
	api, _ := loopbackFor(t, cfg.HTTPAddr)
	page, _ := loopbackFor(t, cfg.UIAddr)
	fake := c.lan.Fake("n1")
	_, err := New(cfg, Parts{Binder: fake, Announcer: fake, API: api, UI: page,
		Links: func() ([]string, error) { return nil, nil }})
	if !errors.Is(err, ui.ErrClusterToken) {
		t.Fatalf("New with the cluster token as the page's = %v, want ErrClusterToken", err)
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data dir was touched: %v", err)
	}
	if _, err := page.Accept(); err == nil {
		t.Error("the page's listener is still open after New failed")
	}
}
