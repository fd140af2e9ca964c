package api

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/allocation"
	"github.com/capstone-pms/capstone/commands/cohort"
	"github.com/capstone-pms/capstone/events"
)

func (s *Server) allocationRoutes(r *mux.Router) {
	r.HandleFunc("/v1/allocation", s.authed(s.allocate, events.RoleCoordinator)).Methods(http.MethodPost)
}

type allocationRequest struct {
	// DryRun is required: a forgotten field must not commit a cohort's
	// placements, and a preview sent as {} must not be taken for a run.
	DryRun           *bool   `json:"dry_run"`
	Objective        string  `json:"objective"`
	Seed             *uint64 `json:"seed"`
	AllowOutsideList bool    `json:"allow_outside_list"`
}

type allocationResponse struct {
	RunID       string                  `json:"run_id"`
	Applied     bool                    `json:"applied"`
	DryRun      bool                    `json:"dry_run"`
	Objective   string                  `json:"objective"`
	Seed        uint64                  `json:"seed"`
	Assignments []allocationAssignment  `json:"assignments"`
	Unplaced    []allocationUnplaced    `json:"unplaced"`
	Profile     allocationProfileReport `json:"profile"`
}

type allocationAssignment struct {
	StudentID    string `json:"student_id"`
	SupervisorID string `json:"supervisor_id"`
	Rank         int    `json:"rank"`
}

type allocationUnplaced struct {
	StudentID string `json:"student_id"`
	Reason    string `json:"reason"`
}

type allocationProfileReport struct {
	ByRank      map[string]int `json:"by_rank"` // "1".."5": how many got their nth choice
	OutsideList int            `json:"outside_list"`
	Unplaced    int            `json:"unplaced"`
	Students    int            `json:"students"`
	Capacity    int            `json:"capacity"`
}

// allocate computes (and unless dry_run applies) an allocation run for the
// students who have no supervisor yet.
func (s *Server) allocate(w http.ResponseWriter, r *http.Request, a actor) error {
	var req allocationRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.DryRun == nil {
		return commands.Invalid(commands.FieldError{Field: "dry_run", Message: "is required: true previews the allocation, false applies it"})
	}
	dry := *req.DryRun
	obj := allocation.Objective(req.Objective)
	switch obj {
	case "", allocation.Generous, allocation.Greedy, allocation.RankSum:
	default:
		return commands.Invalid(commands.FieldError{Field: "objective", Message: "one of generous, greedy, rank-sum"})
	}
	out, err := s.Cohort.Allocate(r.Context(), meta(r, a),
		cohort.AllocationOptions{DryRun: dry, Objective: obj, Seed: req.Seed, AllowOutsideList: req.AllowOutsideList})
	if err != nil {
		return err
	}
	res := out.Result
	resp := allocationResponse{RunID: out.RunID, Applied: out.Applied, DryRun: dry, Objective: string(res.Objective), Seed: res.Seed,
		Assignments: make([]allocationAssignment, len(res.Assignments)), Unplaced: make([]allocationUnplaced, len(res.Unplaced)),
		Profile: allocationProfileReport{ByRank: map[string]int{}, OutsideList: res.Profile.OutsideList,
			Unplaced: res.Profile.Unplaced, Students: res.Profile.Students, Capacity: res.Profile.Capacity}}
	for i, as := range res.Assignments {
		resp.Assignments[i] = allocationAssignment{StudentID: as.StudentID, SupervisorID: as.SupervisorID, Rank: as.Rank}
	}
	for i, u := range res.Unplaced {
		resp.Unplaced[i] = allocationUnplaced{StudentID: u.StudentID, Reason: u.Reason}
	}
	for rank := 1; rank <= 5; rank++ {
		resp.Profile.ByRank[string(rune('0'+rank))] = res.Profile.ByRank[rank]
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
