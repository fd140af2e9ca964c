package mongo_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	imongo "github.com/capstone-pms/capstone/infra/mongo"
)

// TestConcurrentAppendsShareInserts: appends that arrive together are
// written in fewer inserts than there are commits, and each still gets its
// own answer: every commit of its own stream is stored, and of the writers
// racing for one version exactly one wins.
func TestConcurrentAppendsShareInserts(t *testing.T) {
	mc, inserts := counting(t, "insert")
	s := imongo.NewEventStore(mc.Database(newDB(t).Name()), registry)

	const own, racing = 40, 10
	now := time.Now().UTC()
	var (
		start = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make([]error, own+racing)
		ctx   = testCtx(t)
	)
	for i := range own + racing {
		c := newCommit(fmt.Sprint("own-", i), 1, now, created("t"))
		if i >= own {
			c = newCommit("shared", 1, now, created(fmt.Sprint("writer ", i)))
		}
		wg.Go(func() {
			<-start
			errs[i] = s.Append(ctx, c)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case i < own && err != nil:
			t.Errorf("own stream %d: %v", i, err)
		case i >= own && err == nil:
			wins++
		case i >= own && !errors.Is(err, commands.ErrConcurrentAppend):
			t.Errorf("racing writer %d: %v, want nil or ErrConcurrentAppend", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("%d racing writers won, want 1", wins)
	}
	for i := range own {
		got, err := s.ReadStream(ctx, fmt.Sprint("own-", i), events.ReadOptions{})
		if err != nil || len(got) != 1 {
			t.Errorf("own-%d: %d commits, %v; want 1", i, len(got), err)
		}
	}
	if n := inserts.Load(); n >= own+racing {
		t.Errorf("%d inserts for %d appends: nothing was written together", n, own+racing)
	} else {
		t.Logf("%d appends in %d inserts", own+racing, n)
	}
}
