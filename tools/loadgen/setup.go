package loadgen

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type signInAnswer struct {
	Token string `json:"token"`
	User  struct {
		ID    string   `json:"id"`
		Roles []string `json:"roles"`
	} `json:"user"`
}

func (r *runner) signIn(ctx context.Context, email, password string) (signInAnswer, error) {
	var a signInAnswer
	err := r.api.call(ctx, http.MethodPost, "/v1/auth/sign-in", "", map[string]string{"email": email, "password": password}, http.StatusOK, &a)
	if err == nil && a.Token == "" {
		err = errors.New("sign-in answered no token")
	}
	return a, err
}

// createUser creates a user with a random password and signs them in.
func (r *runner) createUser(ctx context.Context, email, name, role string) (account, error) {
	a := account{email: email, password: crand.Text()}
	var w written
	body := map[string]any{"email": email, "name": name, "roles": []string{role}, "password": a.password}
	if err := r.api.call(ctx, http.MethodPost, "/v1/users", r.admin, body, http.StatusCreated, &w); err != nil {
		return a, err
	}
	a.id = w.ID
	r.mu.Lock()
	r.created = append(r.created, w.ID)
	r.mu.Unlock()
	s, err := r.signIn(ctx, email, a.password)
	a.token = s.Token
	return a, err
}

func (r *runner) setup(ctx context.Context) error {
	start := time.Now()
	admin, err := r.signIn(ctx, r.o.Email, r.o.Password)
	if err != nil {
		return fmt.Errorf("sign in as the coordinator %s: %w", r.o.Email, err)
	}
	if !slices.Contains(admin.User.Roles, "coordinator") {
		return fmt.Errorf("%s is not a coordinator (roles %v)", r.o.Email, admin.User.Roles)
	}
	r.admin = admin.Token
	r.logf("run %s: creating %d supervisors (capacity %d) and %d students on %s", r.runID, r.o.Supervisors, r.o.Capacity, r.o.Clients, r.o.Target)

	r.sups = make([]account, r.o.Supervisors)
	err = parallel(ctx, len(r.sups), func(ctx context.Context, i int) error {
		a, err := r.createUser(ctx, fmt.Sprintf("bench-%s-sup%d@bench.example", r.runID, i), fmt.Sprintf("Bench Supervisor %d", i), "supervisor")
		if err != nil {
			return err
		}
		profile := map[string]any{"areas": []string{"Benchmarking"}, "info": "created by capstone bench, run " + r.runID,
			"project_ideas": []any{}, "capacity": r.o.Capacity}
		if err := r.api.call(ctx, http.MethodPut, "/v1/supervisors/"+a.id+"/profile", r.admin, profile, http.StatusOK, nil); err != nil {
			return err
		}
		r.sups[i] = a
		return nil
	})
	if err != nil {
		return err
	}

	r.client = make([]*client, r.o.Clients)
	err = parallel(ctx, r.o.Clients, func(ctx context.Context, i int) error {
		a, err := r.createUser(ctx, fmt.Sprintf("bench-%s-stu%d@bench.example", r.runID, i), fmt.Sprintf("Bench Student %d", i), "student")
		if err != nil {
			return err
		}
		c := &client{r: r, idx: i, acct: a, rng: rand.New(rand.NewPCG(r.o.Seed, uint64(i)+1))}
		var own written
		if err := r.api.call(ctx, http.MethodPost, "/v1/projects", a.token, c.projectBody(-1), http.StatusCreated, &own); err != nil {
			return err
		}
		c.project, c.version = own.ID, own.Version
		sup := i % len(r.sups)
		var p written
		if err := r.api.call(ctx, http.MethodPost, "/v1/projects", a.token, c.projectBody(sup), http.StatusCreated, &p); err != nil {
			return err
		}
		r.push(proposal{id: p.ID, sup: sup})
		r.client[i] = c
		// So that the first reads of the own project do not find it missing.
		return r.waitVisible(ctx, a.token, own.ID, own.Version)
	})
	if err != nil {
		return err
	}
	r.logf("setup done in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// waitVisible waits until GET shows the project at version or later.
func (r *runner) waitVisible(ctx context.Context, token, id string, version int64) error {
	path := fmt.Sprintf("/v1/projects/%s?min_version=%d", id, version)
	deadline := time.Now().Add(lagTimeout)
	for {
		var w written
		err := r.api.call(ctx, http.MethodGet, path, token, nil, http.StatusOK, &w)
		if err == nil && w.Version >= version {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("project %s not readable at version %d: %v", id, version, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// parallel runs f(ctx, 0..n-1) on setupWorkers goroutines and returns the
// first error (which cancels the rest).
func parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(n, setupWorkers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err })
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// cleanup deletes the users the run created, best effort.
func (r *runner) cleanup(ctx context.Context) {
	if r.o.KeepUsers || r.admin == "" {
		return
	}
	r.mu.Lock()
	ids := slices.Clone(r.created)
	r.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupWithin)
	defer cancel()
	var failed atomic.Int64
	_ = parallel(ctx, len(ids), func(ctx context.Context, i int) error {
		if err := r.api.call(ctx, http.MethodDelete, "/v1/users/"+ids[i], r.admin, nil, http.StatusNoContent, nil); err != nil {
			if failed.Add(1) == 1 {
				r.logf("cleanup: %v", err)
			}
		}
		return nil
	})
	r.logf("cleanup: deleted %d of the %d users of run %s", len(ids)-int(failed.Load()), len(ids), r.runID)
}
