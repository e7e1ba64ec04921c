//! Which layers' threads yield the CPU to the others.
//!
//! A layer's gzip stream decodes on one thread, so an image scan can end no
//! sooner than its largest layer's decode: that pipeline is the critical
//! path. With every thread at the same priority, the smaller layers'
//! decoders and matchers take CPU from it, and the scan ends with one core
//! idle while the big layer's decoder finishes alone. Layers much smaller
//! than the largest of the run therefore lower their threads' priority:
//! they still get every cycle the big layer leaves over, and the big
//! layer runs at its own pace.
//!
//! Measured on 2 cores, an OCI image of a 80 MB and a 48 MB gzip layer:
//! 1.18 → 1.04 s. Two layers of the same size must not be ordered this way
//! (the second's decode becomes a tail of its own: 1.38 → 1.48 s for two
//! 80 MB layers), hence the margin: only layers at most three quarters
//! the size of the largest yield.

/// How a layer's threads are scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// The default priority.
    Normal,
    /// Lower priority (a higher nice value) for every thread of the layer.
    Background,
}

/// The nice value added for [`Priority::Background`].
#[cfg(target_os = "linux")]
const BACKGROUND_NICE: i32 = 10;

impl Priority {
    /// The priority of a layer of `size` blob bytes in a run whose largest
    /// layer has `largest` (0 where the manifest gave no size: no layer
    /// yields then).
    pub fn for_layer(size: u64, largest: u64) -> Priority {
        if size > 0 && u128::from(size) * 4 <= u128::from(largest) * 3 {
            Priority::Background
        } else {
            Priority::Normal
        }
    }

    /// Applies the priority to the calling thread. Call it on threads made
    /// for the layer only: a thread's priority can be lowered but not
    /// raised back without privileges. Failure changes nothing and is
    /// ignored: priority is an optimisation.
    pub fn apply_to_this_thread(self) {
        if self == Priority::Background {
            lower_this_thread();
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_this_thread() {
    // On Linux, PRIO_PROCESS with who = 0 names the calling thread (each
    // thread has its own nice value), not the whole process.
    // SAFETY: getpriority and setpriority take plain integers, touch no
    // memory of ours and have no preconditions; errors are return values.
    unsafe {
        let current = libc::getpriority(libc::PRIO_PROCESS, 0);
        let lowered = (current + BACKGROUND_NICE).min(19);
        libc::setpriority(libc::PRIO_PROCESS, 0, lowered);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_thread() {
    // Elsewhere `setpriority(PRIO_PROCESS, 0)` would lower the whole
    // process; scheduling stays as it is.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_layers_well_below_the_largest_yield() {
        assert_eq!(Priority::for_layer(80, 80), Priority::Normal);
        assert_eq!(Priority::for_layer(79, 80), Priority::Normal);
        assert_eq!(Priority::for_layer(60, 80), Priority::Background);
        assert_eq!(Priority::for_layer(48, 80), Priority::Background);
        // Sizes unknown: nobody yields.
        assert_eq!(Priority::for_layer(0, 0), Priority::Normal);
        assert_eq!(Priority::for_layer(0, 80), Priority::Normal);
        assert_eq!(
            Priority::for_layer(u64::MAX / 2, u64::MAX),
            Priority::Background
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn background_lowers_only_the_calling_thread() {
        // SAFETY: as in lower_this_thread.
        let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let before = nice();
        let inside = std::thread::spawn(move || {
            Priority::Background.apply_to_this_thread();
            nice()
        })
        .join()
        .unwrap();
        assert_eq!(inside, (before + BACKGROUND_NICE).min(19));
        assert_eq!(nice(), before, "the spawning thread keeps its priority");
    }
}
