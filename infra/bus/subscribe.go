package bus

import (
	"cmp"
	"context"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Defaults of a KeepTrying consumer's tries to subscribe.
const (
	// DefaultRetryAtMost is long enough not to press a Pub/Sub coming
	// back, short enough that a consumer subscribes within seconds of it.
	DefaultRetryAtMost = 10 * time.Second
	// DefaultRetryLogEvery keeps an outage of hours to a few lines an hour
	// per projection, the first at once.
	DefaultRetryLogEvery = 5 * time.Minute
)

// retryFirst is the delay after the first failed try to subscribe.
const retryFirst = 200 * time.Millisecond

// subscribe subscribes to the consumer's topic, trying again after each
// failure with a delay that doubles up to RetryAtMost, and logs the first
// failure and then at most one every RetryLogEvery (with the tries so far
// and the last error). It returns the messages once subscribed, or nil once
// ctx has ended.
func (c *Consumer) subscribe(ctx context.Context) <-chan *message.Message {
	most := cmp.Or(c.RetryAtMost, DefaultRetryAtMost)
	every := cmp.Or(c.RetryLogEvery, DefaultRetryLogEvery)
	name := c.Projection.Name()
	delay, since := min(retryFirst, most), time.Now()
	var logged time.Time
	for tries := 1; ; tries++ {
		msgs, err := c.Sub.Subscribe(ctx, c.Topic)
		if err == nil {
			c.subscribed.Store(true)
			if tries > 1 {
				c.Log.InfoContext(ctx, "subscribed to the bus", "projection", name, "tries", tries,
					"after", time.Since(since).Round(time.Millisecond))
			}
			return msgs
		}
		if ctx.Err() != nil {
			return nil
		}
		if logged.IsZero() || time.Since(logged) >= every {
			logged = time.Now()
			c.Log.WarnContext(ctx, "cannot subscribe to the bus; trying again (the catch-up from the store applies commits meanwhile)",
				"projection", name, "topic", c.Topic, "tries", tries, "since", since, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, most)
	}
}

// Subscribed says whether the consumer has its subscription: always once
// Start has returned, unless KeepTrying, which subscribes in the background.
func (c *Consumer) Subscribed() bool { return c.subscribed.Load() }
