"""lifetimes' side of benchmarks/scoring.sh: writes the summaries both sides fit, times lifetimes'
fits (best of 3), and prints one line per fit in the same format as `loyalty bench scoring`."""
import sys, time, warnings
import numpy as np
import pandas as pd
from scipy.special import gammaln
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

warnings.filterwarnings("ignore")
data, work = sys.argv[1], sys.argv[2]

sample = pd.read_csv(f"{data}/cdnow_customers_summary_with_transactions.csv")
sample = sample.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
sample = sample[["frequency", "recency", "T", "monetary_value"]]

master = pd.read_csv(f"{data}/CDNOW_master.txt", sep=r"\s+", header=None, skiprows=1,
                     names=["customer_id", "date", "cds", "dollars"], dtype={"customer_id": str, "date": str})
master["date"] = pd.to_datetime(master["date"], format="%Y%m%d")
master = summary_data_from_transaction_data(master, "customer_id", "date", monetary_value_col="dollars",
                                            observation_period_end="1997-09-30", freq="W")
master = master[["frequency", "recency", "T", "monetary_value"]]

def best(fn, repeats=3):
    fastest, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        fastest = min(fastest, time.perf_counter() - start)
    return result, fastest

def ll_bgnbd(p, d):
    """The total BG/NBD log-likelihood in the data's own time unit (FHL 2005, eq. 6)."""
    r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
    x, tx, T = d["frequency"].values, d["recency"].values, d["T"].values
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(tx + alpha), -np.inf)
    return float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))

for name, d in (("sample", sample), ("master", master)):
    d.to_csv(f"{work}/{name}.csv", index=False)
    bg, seconds = best(lambda: BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"]))
    p = bg.params_
    ll = ll_bgnbd(p, d)
    print(f"{name} python bgnbd customers={len(d)} seconds={seconds:.4f} r={p['r']:.6f} alpha={p['alpha']:.6f} a={p['a']:.6f} b={p['b']:.6f} ll={ll:.4f}")
    repeat = d[(d["frequency"] > 0) & (d["monetary_value"] > 0)]
    gg, seconds = best(lambda: GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"]))
    q = gg.params_
    print(f"{name} python gammagamma customers={len(repeat)} seconds={seconds:.4f} p={q['p']:.6f} q={q['q']:.6f} v={q['v']:.6f} ll=nan")
