package rig

import "testing"

func TestMetricValue(t *testing.T) {
	page := []byte("# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 42\ngo_goroutines_extra 7\nraftvip_term{node=\"n1\"} 3\n")
	if v, err := MetricValue(page, "go_goroutines"); err != nil || v != 42 {
		t.Errorf("go_goroutines = %v, %v; want 42", v, err)
	}
	if _, err := MetricValue(page, "raftvip_missing"); err == nil {
		t.Error("a missing metric was found")
	}
}
