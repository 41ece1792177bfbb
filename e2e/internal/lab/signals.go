package lab

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// cleanupSignals are the signals after which no lab may be left behind.
var cleanupSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// openLabs is the one piece of package state: signal delivery is process-wide,
// so one watcher must close every open lab before the process ends, however
// many labs (parallel tests) are open.
var openLabs struct {
	mu   sync.Mutex
	labs map[*Lab]bool
	ch   chan os.Signal // nil while no lab is registered
}

func registerSignalCleanup(l *Lab) {
	openLabs.mu.Lock()
	defer openLabs.mu.Unlock()
	if openLabs.labs == nil {
		openLabs.labs = map[*Lab]bool{}
	}
	openLabs.labs[l] = true
	if openLabs.ch == nil {
		openLabs.ch = make(chan os.Signal, 1)
		signal.Notify(openLabs.ch, cleanupSignals...)
		go watchSignals(openLabs.ch)
	}
}

// unregisterSignalCleanup forgets l; with no lab left it stops catching the
// signals, so they act as they did before.
func unregisterSignalCleanup(l *Lab) {
	openLabs.mu.Lock()
	defer openLabs.mu.Unlock()
	delete(openLabs.labs, l)
	if len(openLabs.labs) == 0 && openLabs.ch != nil {
		signal.Stop(openLabs.ch)
		close(openLabs.ch) // no delivery after Stop returns
		openLabs.ch = nil
	}
}

// watchSignals closes every open lab on the first signal, then delivers the
// signal again with its default action, so the process ends as it would have.
func watchSignals(ch chan os.Signal) {
	sig, ok := <-ch
	if !ok {
		return
	}
	openLabs.mu.Lock()
	var labs []*Lab
	for l := range openLabs.labs {
		labs = append(labs, l)
	}
	openLabs.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range labs {
		wg.Go(func() {
			if err := l.Close(); err != nil {
				l.logf("lab %s: cleanup after %v: %v", l.prefix, sig, err)
			}
		})
	}
	wg.Wait()
	signal.Reset(sig)
	if s, ok := sig.(syscall.Signal); ok {
		// To this very thread, so the default action (death by sig) runs
		// before the line below could exit with another status.
		_ = syscall.Tgkill(os.Getpid(), syscall.Gettid(), s)
	}
	os.Exit(1) // the signal was ignored by the parent's disposition
}
