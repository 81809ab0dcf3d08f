// Dependency cycles, each named by the units on it: Tarjan's strongly connected components, then one loop per component.

/**
 * Every cycle among `vertices`, one per strongly connected component, written as a closed walk
 * (`[a, b, c, a]`) that starts at the component's first vertex in `vertices` order.
 */
export function findCycles<V>(vertices: readonly V[], next: (vertex: V) => readonly V[]): V[][] {
  const index = new Map<V, number>();
  const low = new Map<V, number>();
  const stack: V[] = [];
  const onStack = new Set<V>();
  const components: V[][] = [];
  let counter = 0;

  // Iterative, so a long dependency chain cannot overflow the call stack.
  for (const root of vertices) {
    if (index.has(root)) continue;
    const work: Array<{ vertex: V; edge: number }> = [{ vertex: root, edge: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = next(frame.vertex);
      if (frame.edge < edges.length) {
        const target = edges[frame.edge++]!;
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ vertex: target, edge: 0 });
        } else if (onStack.has(target)) {
          low.set(frame.vertex, Math.min(low.get(frame.vertex)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.vertex, Math.min(low.get(parent.vertex)!, low.get(frame.vertex)!));
      if (low.get(frame.vertex) === index.get(frame.vertex)) {
        const component: V[] = [];
        let member: V;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.vertex);
        components.push(component);
      }
    }
  }

  const order = new Map(vertices.map((vertex, position) => [vertex, position]));
  return components
    .filter((component) => component.length > 1 || next(component[0]!).includes(component[0]!))
    .map((component) => {
      const start = component.reduce((best, vertex) => (order.get(vertex)! < order.get(best)! ? vertex : best));
      return shortestLoop(start, new Set(component), next);
    })
    .sort((a, b) => order.get(a[0]!)! - order.get(b[0]!)!);
}

/** The shortest walk from `start` back to itself inside `within` (breadth first). */
function shortestLoop<V>(start: V, within: ReadonlySet<V>, next: (vertex: V) => readonly V[]): V[] {
  const parent = new Map<V, V>();
  const queue: V[] = [start];
  for (let head = 0; head < queue.length; head += 1) {
    const vertex = queue[head]!;
    for (const target of next(vertex)) {
      if (!within.has(target)) continue;
      if (target === start) {
        // Walked back from the end and reversed once: unshift per step would be quadratic in the loop's length.
        const path = [start, vertex];
        for (let step = vertex; step !== start; step = parent.get(step)!) path.push(parent.get(step)!);
        return path.reverse();
      }
      if (!parent.has(target) && target !== start) {
        parent.set(target, vertex);
        queue.push(target);
      }
    }
  }
  return [start, start];
}
