// Command responder is the lab's stand-in service: it listens on TCP (all
// addresses, IPv4 and IPv6, so a VIP added later is served too) and answers
// every connection with its name and a newline, then closes it. The client's
// probe learns from the answer which node holds the VIP.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	name := flag.String("name", "", "the name to answer with (required)")
	listen := flag.String("listen", ":8000", "TCP address to listen on")
	flag.Parse()
	if *name == "" {
		log.Fatal("responder: -name is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *listen, *name+"\n"); err != nil {
		log.Fatalf("responder: %v", err)
	}
}

func serve(ctx context.Context, addr, answer string) error {
	// ":8000" gives one dual-stack socket (IPV6_V6ONLY off), so IPv4 and IPv6
	// clients both arrive here.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("responder: listening on %s", ln.Addr())
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		go func() {
			defer c.Close()
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write([]byte(answer)) // the client may be gone: nothing to do
		}()
	}
}
