package agent

import "sync"

// group owns goroutines: the agent starts every goroutine of its own through
// one, and Run returns only after wait, so none outlives the agent.
type group struct{ wg sync.WaitGroup }

// start runs f on a new goroutine and returns a channel that receives f's
// result. It is buffered, so the goroutine ends even if nobody reads it (and
// a reader may put the result back for another).
func (g *group) start(f func() error) chan error {
	done := make(chan error, 1)
	g.wg.Go(func() { done <- f() })
	return done
}

// wait returns when every goroutine started by g has returned.
func (g *group) wait() { g.wg.Wait() }
