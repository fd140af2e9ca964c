//go:build race

package embedded

// raceDetector: the race detector's shadow memory is resident outside Go's
// heap too, and grows with what the test reads.
const raceDetector = true
