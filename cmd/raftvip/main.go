// Command raftvip keeps virtual IPs available on a LAN: a Raft cluster of 3 or 5
// agents elects a leader, and only the leader holds the VIPs.
//
//	raftvip agent ...            run the daemon
//	raftvip status|members ...   ask a node about the cluster
//	raftvip join|leave|transfer  change membership or leadership
//	raftvip vip add|rm|ls        change or list the VIP set
//	raftvip recover -members ... rewrite a stopped node's Raft members after losing quorum
//	raftvip tls init|cert        create the cluster CA and certificates
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

const usage = `usage: raftvip <command> [flags]

commands:
  agent                 run the daemon (raftvip agent -h for its flags)
  status                show a node's view of the cluster
  members               list the cluster's members
  join                  add a node to the cluster
  leave <id>            remove a node from the cluster
  transfer [id]         move leadership (and the VIPs) to another node
  vip add <cidr>        add a VIP
  vip rm <ip>           remove a VIP
  vip ls                list the VIPs
  import-keepalived <f> print a raftvip config translated from keepalived.conf (exit 1: not all of it)
  release               remove this host's cluster VIPs after the agent stopped (ExecStopPost)
  recover -members ...  after a quorum lost for good: rewrite the stopped node's Raft members, keeping its data
  tls init              create the CA of a new cluster (ca.pem, ca-key.pem)
  tls cert -id <id>     create a node's (or operator's) certificate, signed by the CA
  version               print the version

Client commands take -addr (a node's API address), -token-file, -json, and
-tls-cert, -tls-key, -tls-ca (or -insecure-plaintext).
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run returns the process exit code: 0 ok, 1 failure, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "agent":
		err = runAgent(ctx, rest, stderr, getenv)
	case "release":
		err = runRelease(ctx, rest, stdout, stderr, getenv)
	case "recover":
		err = runRecover(rest, stdout, stderr, getenv)
	case "tls":
		err = runTLS(rest, stdout, stderr)
	case "status", "members", "join", "leave", "transfer", "vip":
		err = runClient(ctx, cmd, rest, stdout, stderr, getenv)
	case "import-keepalived":
		err = runImport(rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "raftvip", version)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "raftvip: unknown command %q\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "raftvip %s: %v\n", args[0], strings.TrimPrefix(err.Error(), "usage: "))
		return 2
	default:
		fmt.Fprintf(stderr, "raftvip %s: %v\n", args[0], err)
		return 1
	}
}

// errHelp is returned when -h was asked for: the usage was printed, exit 0.
var errHelp = errors.New("help shown")

// newLogger returns a logger at level, and the variable that holds its level
// so that SIGHUP can change it.
func newLogger(w io.Writer, format, level string) (*slog.Logger, *slog.LevelVar, error) {
	l, err := parseLevel(level)
	if err != nil {
		return nil, nil, err
	}
	lv := new(slog.LevelVar)
	lv.Set(l)
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), lv, nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), lv, nil
}
