package cluster

import (
	"strings"
	"testing"
)

func TestFilterStacks(t *testing.T) {
	dump := "goroutine 1 [running]:\nmain.main()\n\t/src/main.go:10\n\n" +
		"goroutine 7 [select]:\ngithub.com/hashicorp/raft.(*Raft).replicate(...)\n\t/raft/replication.go:120\n\n" +
		"goroutine 9 [chan receive]:\nnet.(*conn).Read()\n\n" +
		"goroutine 12 [IO wait]:\ngithub.com/hashicorp/raft.(*NetworkTransport).genericRPC(...)\n"
	got := filterStacks(dump, "github.com/hashicorp/raft")
	if !strings.Contains(got, "goroutine 7 [select]") || !strings.Contains(got, "goroutine 12 [IO wait]") {
		t.Fatalf("raft goroutines missing:\n%s", got)
	}
	if strings.Contains(got, "goroutine 1 ") || strings.Contains(got, "goroutine 9 ") {
		t.Fatalf("other goroutines kept:\n%s", got)
	}
}

func TestRaftStacksOfThisProcess(t *testing.T) {
	// This test's own goroutine runs no raft code; the dump must not be
	// the whole process's.
	if s := raftStacks(); strings.Contains(s, "TestRaftStacksOfThisProcess") {
		t.Fatalf("a goroutine without raft code was kept:\n%s", s)
	}
}
