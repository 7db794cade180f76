package transport_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/marlon-go/marlon/actors"
	"github.com/marlon-go/marlon/transport"
)

// Greeting is a message that crosses nodes: its type is registered, under
// the same name, on every node.
type Greeting struct{ Text string }

func init() { transport.Register[Greeting]("example.Greeting") }

// Two nodes on an embedded NATS server: an actor on node b asks an actor
// on node a, as it would ask one in its own process.
func Example() {
	srv, err := transport.StartServer(transport.ServerOptions{})
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown()
	trusted := transport.Trusted{}
	keys := map[string]*transport.Key{}
	for _, name := range []string{"a", "b"} {
		keys[name], _ = transport.GenerateKey(name)
		trusted.Add(keys[name])
	}
	start := func(name string) *transport.Node {
		n, err := transport.Start(transport.Config{Name: name, URL: srv.ClientURL(), Key: keys[name], Trusted: trusted,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			panic(err)
		}
		return n
	}
	a, b := start("a"), start("b")
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := b.WaitMembers(ctx, 2); err != nil {
		panic(err)
	}

	greeter := a.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if g, ok := msg.(Greeting); ok {
			ctx.Reply(ctx.ReplyTo(), Greeting{Text: g.Text + ", " + ctx.Sender().Node + ", from " + ctx.Self().Node})
		}
	}))
	answer := make(chan string, 1)
	b.Runtime().Spawn(actors.ActorFunc(func(ctx actors.Context, msg any) {
		if _, ok := msg.(actors.Started); ok {
			ctx.Request(greeter, Greeting{Text: "hello"}, actors.Forever, func(ctx actors.Context, reply any, err error) {
				if err != nil {
					answer <- err.Error()
					return
				}
				answer <- reply.(Greeting).Text
			})
		}
	}))
	fmt.Println(<-answer)
	// Output: hello, b, from a
}
