package cluster

import (
	"runtime"
	"strings"
)

// raftStacks returns the stacks of the goroutines running raft's code, from a
// dump of every goroutine. It is logged when raft does not stop, so that the
// goroutine holding its Shutdown can be named from the log alone.
func raftStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return filterStacks(string(buf), "github.com/hashicorp/raft")
}

// filterStacks keeps the goroutines of dump (runtime.Stack's format: one
// blank-line-separated block per goroutine) whose stack mentions pkg.
func filterStacks(dump, pkg string) string {
	var keep []string
	for g := range strings.SplitSeq(dump, "\n\n") {
		if strings.Contains(g, pkg) {
			keep = append(keep, strings.TrimSpace(g))
		}
	}
	return strings.Join(keep, "\n\n")
}
