/**
 * Drives several systems under test through the same rising rates, interleaved: at each rate
 * every target runs one step before the next rate starts, and the order alternates per rate
 * (A,B then B,A). On a machine shared with other work the background load drifts; interleaving
 * spreads that drift evenly over both instead of charging it to whichever ran second.
 *
 * A target stops climbing after `giveUpAfter` consecutive unstable steps; its highest stable rate
 * is the highest rate at which a step was stable.
 */

export interface StepOutcome {
  readonly stable: boolean;
}

export interface StepperOptions<T extends StepOutcome> {
  readonly targets: readonly string[];
  readonly rates: readonly number[];
  readonly giveUpAfter: number;
  readonly runStep: (target: string, rate: number) => Promise<T>;
  /** Called after each step (for printing progress). */
  readonly onStep?: (target: string, rate: number, outcome: T) => void;
}

export interface TargetSteps<T extends StepOutcome> {
  readonly target: string;
  readonly steps: { readonly rate: number; readonly outcome: T }[];
  /** Highest rate with a stable step; NaN if none was stable. */
  highestStableRate: number;
}

export async function runInterleavedSteps<T extends StepOutcome>(opts: StepperOptions<T>): Promise<TargetSteps<T>[]> {
  const results = opts.targets.map((target): TargetSteps<T> => ({ target, steps: [], highestStableRate: NaN }));
  const unstableRun = new Map<string, number>(opts.targets.map((t) => [t, 0]));
  const rates = [...opts.rates].sort((a, b) => a - b);
  for (let i = 0; i < rates.length; i++) {
    const rate = rates[i]!;
    const order = i % 2 === 0 ? results : [...results].reverse();
    const active = order.filter((r) => unstableRun.get(r.target)! < opts.giveUpAfter);
    if (active.length === 0) break;
    for (const r of active) {
      const outcome = await opts.runStep(r.target, rate);
      r.steps.push({ rate, outcome });
      if (outcome.stable) {
        unstableRun.set(r.target, 0);
        if (!(rate <= r.highestStableRate)) r.highestStableRate = rate;
      } else {
        unstableRun.set(r.target, unstableRun.get(r.target)! + 1);
      }
      opts.onStep?.(r.target, rate, outcome);
    }
  }
  return results;
}
