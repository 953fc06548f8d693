// A room's poll: asks the server to rerun the fragment it sits in every `data.interval_ms` (a trigger, so the
// rerun is the fragment's alone). Its own timer, set anew on every mount: Streamlit's run_every timers were seen
// to stop in a follower's tab when a rerun interrupted the run that had just registered them.
const timers = new WeakMap();

export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  let poll = timers.get(parentElement);
  if (!poll || poll.interval !== data.interval_ms) {
    if (poll) clearInterval(poll.timer);
    poll = {interval: data.interval_ms, generation: 0};
    poll.timer = setInterval(() => setTriggerValue("tick", Date.now()), data.interval_ms);
    timers.set(parentElement, poll);
  }
  const generation = (poll.generation += 1);
  return () => {
    if (poll.generation !== generation) return;  // a later call's poll is live
    clearInterval(poll.timer);
    timers.delete(parentElement);
  };
}
