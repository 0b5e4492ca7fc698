package room

import (
	"slices"
	"testing"
)

func TestAssign(t *testing.T) {
	tests := []struct {
		name             string
		cur, cands, pins []int
		want             []int
	}{
		{"empty room leaves every slot empty", []int{0, 0}, nil, []int{0, 0}, []int{0, 0}},
		{"one slot shows the floor", []int{0}, []int{3, 2}, []int{0}, []int{3}},
		{"new floor takes slot 0, the previous one stays visible", []int{2, 0}, []int{3, 2}, []int{0, 0}, []int{3, 2}},
		{"a member that keeps being shown keeps its slot; the floor displaces slot 0", []int{3, 2, 1}, []int{4, 3, 2, 1}, []int{0, 0, 0}, []int{4, 2, 3}},
		{"a leaver's slot is refilled by the next most relevant", []int{4, 3}, []int{4, 2}, []int{0, 0}, []int{4, 2}},
		{"pinned member shows in its slot even if not relevant", []int{0, 0}, []int{5, 4, 3}, []int{0, 3}, []int{5, 3}},
		{"pin on slot 0 beats the floor", []int{5, 4}, []int{5, 4, 3}, []int{3, 0}, []int{3, 5}},
		{"pinned member not publishing leaves room for others", []int{0, 0}, []int{5}, []int{0, 9}, []int{5, 0}},
		{"more slots than publishers", []int{0, 0, 0}, []int{7}, []int{0, 0, 0}, []int{7, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := assign(tt.cur, tt.cands, tt.pins); !slices.Equal(got, tt.want) {
				t.Fatalf("assign(%v, %v, %v) = %v, want %v", tt.cur, tt.cands, tt.pins, got, tt.want)
			}
		})
	}
}
